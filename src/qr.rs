//! The safety number as a QR code, so a phone can read it off the other person's screen.
//!
//! [`safety_number_qr`] encodes the number's 60 digits (the spaces of the displayed groups left out) in
//! numeric mode, so any scanner shows exactly the digits on the screen. The result is the module matrix plus
//! what a shell needs to draw it: [`QrMatrix::svg_path`] is one SVG path of the dark modules, already offset
//! by the quiet zone, in a coordinate system of [`QrMatrix::size_with_quiet_zone`] units per side.
//! The `qrcode` crate computes the matrix; this module only chooses the input and draws the modules.

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

/// Light modules around the code, as the QR standard asks (four modules on every side).
pub const QUIET_ZONE: usize = 4;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("A safety number has only digits and spaces")]
    NotDigits,
    #[error("The text is too long for a QR code")]
    TooLong,
}

/// A QR code's modules, row by row; `true` is dark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

/// The QR code of a safety number as shown ("12345 67890 …"): its digits only, in numeric mode, with
/// medium error correction (about 15 % of the code may be unreadable).
pub fn safety_number_qr(shown: &str) -> Result<QrMatrix, QrError> {
    let digits: String = shown.chars().filter(|it| !it.is_whitespace()).collect();
    if digits.is_empty() || !digits.bytes().all(|it| it.is_ascii_digit()) {
        return Err(QrError::NotDigits);
    }
    // One numeric segment in the smallest version it fits. (Building the bits ourselves leaves out the
    // crate's mode optimizer, which digits do not need: a smaller popup.)
    let code = (1..=40)
        .find_map(|version| {
            let mut bits = Bits::new(Version::Normal(version));
            bits.push_numeric_data(digits.as_bytes()).ok()?;
            bits.push_terminator(EcLevel::M).ok()?;
            QrCode::with_bits(bits, EcLevel::M).ok()
        })
        .ok_or(QrError::TooLong)?;
    let dark = code.to_colors().into_iter().map(|it| it == Color::Dark).collect();
    Ok(QrMatrix { width: code.width(), dark })
}

/// The QR code of a short text (a username to share), in byte mode with medium error correction.
pub fn text_qr(text: &str) -> Result<QrMatrix, QrError> {
    let code = (1..=40)
        .find_map(|version| {
            let mut bits = Bits::new(Version::Normal(version));
            bits.push_byte_data(text.as_bytes()).ok()?;
            bits.push_terminator(EcLevel::M).ok()?;
            QrCode::with_bits(bits, EcLevel::M).ok()
        })
        .ok_or(QrError::TooLong)?;
    let dark = code.to_colors().into_iter().map(|it| it == Color::Dark).collect();
    Ok(QrMatrix { width: code.width(), dark })
}

impl QrMatrix {
    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at column `x`, row `y` is dark (outside the code: light).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// Modules per side including the quiet zone on both sides: the SVG `viewBox` is `0 0 size size`.
    pub fn size_with_quiet_zone(&self) -> usize {
        self.width + 2 * QUIET_ZONE
    }

    /// The dark modules as one SVG path, one rectangle per horizontal run of dark modules, offset by the
    /// quiet zone. Filled on a light background, with `shape-rendering="crispEdges"`, it is the code.
    pub fn svg_path(&self) -> String {
        let mut path = String::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                if !self.is_dark(x, y) {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < self.width && self.is_dark(x, y) {
                    x += 1;
                }
                let run = x - start;
                path.push_str(&format!("M{} {}h{run}v1h-{run}z", start + QUIET_ZONE, y + QUIET_ZONE));
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOWN: &str = "01234 56789 98765 43210 11111 22222 33333 44444 55555 66666 77777 00007";

    /// Reads the path back: the set of modules it paints, in code coordinates (quiet zone removed).
    fn painted(matrix: &QrMatrix) -> Vec<bool> {
        let size = matrix.size_with_quiet_zone();
        let mut grid = vec![false; size * size];
        for rect in matrix.svg_path().split('z').filter(|it| !it.is_empty()) {
            let (head, rest) = rect.strip_prefix('M').unwrap().split_once('h').unwrap();
            let (x, y) = head.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let run: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            assert_eq!(rest, format!("{run}v1h-{run}"));
            for dx in 0..run {
                assert!(!grid[y * size + x + dx], "modules are painted once");
                grid[y * size + x + dx] = true;
            }
        }
        let mut inner = Vec::new();
        for y in 0..size {
            for x in 0..size {
                let in_code = (QUIET_ZONE..QUIET_ZONE + matrix.width()).contains(&x)
                    && (QUIET_ZONE..QUIET_ZONE + matrix.width()).contains(&y);
                if in_code {
                    inner.push(grid[y * size + x]);
                } else {
                    assert!(!grid[y * size + x], "the quiet zone stays light");
                }
            }
        }
        inner
    }

    /// Decodes the matrix as a camera would see it: four pixels per module, quiet zone included.
    fn scan(matrix: &QrMatrix) -> (usize, String) {
        let scale = 4;
        let side = matrix.size_with_quiet_zone() * scale;
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
            let (x, y) = ((x / scale).wrapping_sub(QUIET_ZONE), (y / scale).wrapping_sub(QUIET_ZONE));
            if matrix.is_dark(x, y) { 0 } else { 255 }
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one code in the picture");
        let (meta, text) = grids[0].decode().expect("the code decodes");
        (meta.version.0, text)
    }

    #[test]
    fn a_scanner_reads_the_digits_as_shown_without_the_spaces() {
        let matrix = safety_number_qr(SHOWN).unwrap();
        let (_, text) = scan(&matrix);
        assert_eq!(text, SHOWN.replace(' ', ""));
    }

    #[test]
    fn sixty_digits_fit_version_2_so_they_are_in_numeric_mode() {
        // Numeric mode holds 63 digits in a version 2 code at level M; as bytes, 60 characters need version 4.
        let matrix = safety_number_qr(SHOWN).unwrap();
        assert_eq!(matrix.width(), 25);
        assert_eq!(scan(&matrix).0, 2);
    }

    #[test]
    fn the_path_paints_exactly_the_dark_modules_inside_the_quiet_zone() {
        let matrix = safety_number_qr(SHOWN).unwrap();
        assert_eq!(matrix.size_with_quiet_zone(), 25 + 8);
        let expected: Vec<bool> =
            (0..25).flat_map(|y| (0..25).map(move |x| (x, y))).map(|(x, y)| matrix.is_dark(x, y)).collect();
        assert_eq!(painted(&matrix), expected);
        // The top-left finder pattern: a dark 7-module row at the top of the code.
        assert!((0..7).all(|x| matrix.is_dark(x, 0)) && !matrix.is_dark(7, 0));
        assert!(matrix.svg_path().starts_with("M4 4h7v1h-7z"));
    }

    #[test]
    fn different_numbers_make_different_codes() {
        let other = SHOWN.replace("00007", "00008");
        assert_ne!(safety_number_qr(SHOWN).unwrap(), safety_number_qr(&other).unwrap());
        assert_eq!(scan(&safety_number_qr(&other).unwrap()).1, other.replace(' ', ""));
    }

    #[test]
    fn anything_but_digits_is_refused() {
        assert_eq!(safety_number_qr(""), Err(QrError::NotDigits));
        assert_eq!(safety_number_qr("12345 6789a"), Err(QrError::NotDigits));
        assert_eq!(safety_number_qr("１２３"), Err(QrError::NotDigits), "other scripts' digits are not ASCII digits");
        assert_eq!(safety_number_qr(&"1".repeat(8000)), Err(QrError::TooLong));
    }
}
