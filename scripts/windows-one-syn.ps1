# Windows connect hits, counted on the wire: pktmon (built into Windows 10 1809 and later) captures on the NIC
# while knock-cli.exe sends three connect hits to a TEST-NET-1 address that never answers (the case where
# Windows would retransmit); each port must carry exactly one SYN over 12 s (Windows' SYN retransmissions
# come at about 3 s and 9 s). pktmon logs a packet once per component it passes; PktGroupId names the
# packet, so SYNs are counted by distinct group. Needs an elevated shell (GitHub's Windows runners are).
# Usage: scripts/windows-one-syn.ps1 PATH\TO\knock-cli.exe   (ci.yml: the debug build; release.yml: the
# release build that ships).
param([Parameter(Mandatory = $true)][string]$Cli)
$ErrorActionPreference = 'Stop'
pktmon filter remove
pktmon filter add knock -t TCP -i 192.0.2.1
pktmon start --capture --comp nics --pkt-size 128 --file-name syn.etl
& $Cli knock -m connect -v 192.0.2.1 47000 47001 47002
if ($LASTEXITCODE -ne 0) { pktmon stop; throw "knock-cli failed: $LASTEXITCODE" }
Start-Sleep -Seconds 12
pktmon stop
pktmon etl2txt syn.etl --out syn.txt
Get-Content syn.txt
$group = $null
$seen = @{ '47000' = @{}; '47001' = @{}; '47002' = @{} }
foreach ($line in Get-Content syn.txt) {
  if ($line -match 'PktGroupId (\d+)') { $group = $Matches[1] }
  if ($line -match '> 192\.0\.2\.1\.(4700[0-2]): Flags \[S\]') { $seen[$Matches[1]][$group] = $true }
}
foreach ($port in $seen.Keys) {
  $count = $seen[$port].Count
  Write-Host "port ${port}: $count SYN(s)"
  if ($count -ne 1) { throw "port ${port}: expected exactly one SYN, saw $count" }
}
