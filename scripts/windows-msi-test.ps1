# The MSI on a real Windows (release.yml's windows-msi job; scripts/check-platforms.sh does the same steps
# under Wine's msiexec): install, the Start menu shortcut's AppUserModelID, PATH, a same-version reinstall
# that leaves one Add/Remove Programs entry, a refused downgrade, and an uninstall that leaves nothing.
# Usage: scripts/windows-msi-test.ps1 -Msi knock.msi -Rebuilt knock-rebuilt.msi -Older knock-older.msi -AppId ID
# (the three MSIs from scripts/package-windows.sh: the release one, the same version packed again, and
# --version 0.0.1). Needs an elevated shell (GitHub's Windows runners are).
param(
  [Parameter(Mandatory = $true)][string]$Msi,
  [Parameter(Mandatory = $true)][string]$Rebuilt,
  [Parameter(Mandatory = $true)][string]$Older,
  [Parameter(Mandatory = $true)][string]$AppId
)
$ErrorActionPreference = 'Stop'
$installed = Join-Path $env:ProgramFiles 'knock'

function Invoke-Msiexec([string[]]$arguments, [string]$log) {
  $process = Start-Process msiexec.exe -ArgumentList ($arguments + @('/qn', '/l*v', $log)) -Wait -PassThru
  return $process.ExitCode
}
# Start-Process joins its arguments with spaces: a path is quoted.
function Quoted([string]$path) { '"{0}"' -f (Resolve-Path $path).Path }
function Get-ArpEntries {
  @(Get-ChildItem 'HKLM:\Software\Microsoft\Windows\CurrentVersion\Uninstall' |
      Get-ItemProperty | Where-Object { $_.DisplayName -eq 'knock' })
}
function Test-OnPath { ([Environment]::GetEnvironmentVariable('Path', 'Machine') -split ';') -contains "$installed\" }
function Check([string]$what, [bool]$ok) {
  if ($ok) { Write-Host "MSI: ${what}: ok" } else { throw "MSI: ${what}: FAILED" }
}

Check 'installed' ((Invoke-Msiexec @('/i', (Quoted $Msi)) 'install.log') -eq 0)
Check 'knock-gui.exe and knock-cli.exe installed' ((Test-Path "$installed\knock-gui.exe") -and (Test-Path "$installed\knock-cli.exe"))
& "$installed\knock-cli.exe" --version
Check 'the installed knock-cli.exe runs' ($LASTEXITCODE -eq 0)
Check 'the install folder is on the system PATH (the CliPath feature)' (Test-OnPath)
$arp = Get-ArpEntries
Check "one Add/Remove Programs entry (found $($arp.Count))" ($arp.Count -eq 1)
# Get-StartApps (the StartLayout module) lists a Start menu shortcut under its AppUserModelID.
if (Get-Command Get-StartApps -ErrorAction SilentlyContinue) {
  $start = @(Get-StartApps | Where-Object { $_.Name -eq 'knock' })
  Check "the Start menu shortcut carries the AppUserModelID $AppId (found: $($start.AppID -join ', '))" (($start | Where-Object { $_.AppID -eq $AppId }).Count -eq 1)
} else {
  Write-Host 'MSI: the shortcut''s AppUserModelID: not checked (no Get-StartApps on this Windows)'
}

Check 'the same version, packed again, installs over it' ((Invoke-Msiexec @('/i', (Quoted $Rebuilt)) 'reinstall.log') -eq 0)
$arp = Get-ArpEntries
Check "still one Add/Remove Programs entry (found $($arp.Count))" ($arp.Count -eq 1)

$code = Invoke-Msiexec @('/i', (Quoted $Older)) 'downgrade.log'
Check "an older version is refused (msiexec exit code $code; 1603 expected)" ($code -eq 1603)
Check 'the installed version is still there' (((Get-ArpEntries).Count -eq 1) -and (Test-Path "$installed\knock-cli.exe"))

Check 'uninstalled' ((Invoke-Msiexec @('/x', (Quoted $Rebuilt)) 'uninstall.log') -eq 0)
Check 'no files left' (-not (Test-Path "$installed\knock-cli.exe"))
Check 'no Add/Remove Programs entry left' ((Get-ArpEntries).Count -eq 0)
Check 'the PATH entry is removed' (-not (Test-OnPath))
