//! The separators of a line (spaces and tabs), found eight bytes at a time.
//!
//! A record's tokens are short (seven bytes on average), so a vector search that starts over
//! after each token spends most of its time setting up. Here each 8-byte word of the line is
//! loaded once, its separator bytes marked with a few integer operations, and the marks read
//! off one by one.

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const SPACES: u64 = ONES * b' ' as u64;
const TABS: u64 = ONES * b'\t' as u64;

/// The high bit of every byte of `x` that is zero, and no other bit. Exact: a byte's low
/// seven bits plus 0x7f cannot carry into the next byte.
#[inline]
fn zero_bytes(x: u64) -> u64 {
    !((x & LOW7).wrapping_add(LOW7) | x | LOW7)
}

/// The high bit of every byte of `word` that is a space or a tab.
#[inline]
fn separator_bits(word: u64) -> u64 {
    zero_bytes(word ^ SPACES) | zero_bytes(word ^ TABS)
}

/// The positions of the spaces and tabs of a line, in order.
pub(crate) struct Separators<'a> {
    line: &'a [u8],
    /// Where the word of `bits` starts.
    base: usize,
    /// The separators of that word not yet returned.
    bits: u64,
}

impl<'a> Separators<'a> {
    pub(crate) fn new(line: &'a [u8]) -> Self {
        Self {
            line,
            base: 0,
            bits: Self::load(line, 0),
        }
    }

    #[inline]
    fn load(line: &[u8], at: usize) -> u64 {
        let rest = line.get(at..).unwrap_or_default();
        let word = match (rest.first_chunk::<8>(), line.last_chunk::<8>()) {
            (Some(w), _) => u64::from_le_bytes(*w),
            (None, _) if rest.is_empty() => 0,
            // The line's last bytes (fewer than eight): the line's last word, shifted so that
            // they come first and zeros (which are not separators) fill the rest. A copy of
            // a length known only at run time would be a call to `memcpy` per line.
            (None, Some(last)) => u64::from_le_bytes(*last) >> (8 * (8 - rest.len())),
            (None, None) => {
                let mut w = [0u8; 8];
                w[..rest.len()].copy_from_slice(rest);
                u64::from_le_bytes(w)
            }
        };
        separator_bits(word)
    }
}

impl Iterator for Separators<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            self.base += 8;
            if self.base >= self.line.len() {
                return None;
            }
            self.bits = Self::load(self.line, self.base);
        }
        let bit = self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(self.base + bit / 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_space_and_tab_and_nothing_else() {
        // Every byte value at every position of lines of every length up to 40, beside
        // separators: the marks must be exactly the spaces and tabs.
        for len in 0..40usize {
            for fill in 0..=255u8 {
                let line: Vec<u8> = (0..len)
                    .map(|i| match i % 5 {
                        1 => b' ',
                        3 if len % 2 == 0 => b'\t',
                        _ => fill.wrapping_add(i as u8),
                    })
                    .collect();
                let want: Vec<usize> = line
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b' ' || **b == b'\t')
                    .map(|(i, _)| i)
                    .collect();
                let got: Vec<usize> = Separators::new(&line).collect();
                assert_eq!(got, want, "line {line:?}");
            }
        }
    }
}
