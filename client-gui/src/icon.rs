//! The window icon, drawn in code (a door ajar in a rounded square) until the packaged icon
//! (packaging/icons/knock-gui.png, from the platform work) replaces it.

pub const SIZE: u32 = 64;

/// RGBA pixels of the icon, SIZE x SIZE.
pub fn window_icon() -> egui::IconData {
    let mut rgba = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    let s = SIZE as f32;
    for y in 0..SIZE {
        for x in 0..SIZE {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            // Rounded square background.
            let r = 12.0;
            let dx = (fx - s / 2.0).abs() - (s / 2.0 - r - 2.0);
            let dy = (fy - s / 2.0).abs() - (s / 2.0 - r - 2.0);
            let outside = (dx.max(0.0).powi(2) + dy.max(0.0).powi(2)).sqrt() - r;
            let pixel = if outside > 0.0 {
                [0, 0, 0, 0]
            } else if (20.0..44.0).contains(&fx) && (14.0..52.0).contains(&fy) {
                // The door frame, with an open gap of light on its right.
                if fx >= 38.0 { [0xff, 0xd6, 0x6b, 0xff] } else { [0xf4, 0xf6, 0xfa, 0xff] }
            } else {
                [0x2b, 0x5c, 0xb8, 0xff]
            };
            rgba.extend_from_slice(&pixel);
        }
    }
    egui::IconData { rgba, width: SIZE, height: SIZE }
}
