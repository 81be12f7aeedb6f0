//! The app's icon, drawn in code so the binary needs no image decoder: the same design as
//! packaging/knock-gui.svg (a blue rounded square with three knocks, the last one green: the door opens).

/// The icon's RGBA pixels, 64 x 64.
pub fn window_icon() -> egui::IconData {
    const SIZE: u32 = 64;
    const BACKGROUND: [u8; 4] = [0x1f, 0x4e, 0x79, 0xff];
    const KNOCK: [u8; 4] = [0xff, 0xff, 0xff, 0xff];
    const OPEN: [u8; 4] = [0x6f, 0xcf, 0x97, 0xff];
    // (centre x, centre y, radius, colour) in the SVG's 64x64 coordinates.
    const KNOCKS: [(f32, f32, f32, [u8; 4]); 3] =
        [(16.0, 32.0, 5.0, KNOCK), (32.0, 32.0, 6.0, KNOCK), (48.0, 32.0, 7.0, OPEN)];
    const CORNER: f32 = 14.0;
    let mut rgba = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let knock = KNOCKS.iter().find(|(cx, cy, r, _)| (px - cx).powi(2) + (py - cy).powi(2) <= r * r);
            // Distance outside the rounded square's inner rectangle; inside the shape when <= CORNER.
            let dx = (CORNER - px).max(px - (SIZE as f32 - CORNER)).max(0.0);
            let dy = (CORNER - py).max(py - (SIZE as f32 - CORNER)).max(0.0);
            let pixel = match knock {
                Some(&(_, _, _, colour)) => colour,
                None if dx * dx + dy * dy <= CORNER * CORNER => BACKGROUND,
                None => [0, 0, 0, 0],
            };
            rgba.extend_from_slice(&pixel);
        }
    }
    egui::IconData { rgba, width: SIZE, height: SIZE }
}
