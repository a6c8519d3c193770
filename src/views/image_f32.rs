//! A small RGB image in `f32` (HWC, values in 0..=1), the working format of augmentations.

#[derive(Clone, Debug, PartialEq)]
pub struct ImageF32 {
    pub width: usize,
    pub height: usize,
    /// `height * width * 3` values, row-major, RGB interleaved.
    pub data: Vec<f32>,
}

impl ImageF32 {
    pub fn from_u8(pixels: &[u8], width: usize, height: usize) -> Self {
        debug_assert_eq!(pixels.len(), width * height * 3);
        Self {
            width,
            height,
            data: pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
        }
    }

    pub fn to_u8(&self) -> Vec<u8> {
        self.data
            .iter()
            .map(|&v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
            .collect()
    }

    pub fn pixel(&self, x: usize, y: usize) -> [f32; 3] {
        let o = (y * self.width + x) * 3;
        [self.data[o], self.data[o + 1], self.data[o + 2]]
    }
}
