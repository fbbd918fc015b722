//! An input's text, handed to the decoder in blocks it parses in place: no copy between the
//! decompressor (or the file's buffer) and the parser.

use std::cell::Cell;
use std::io::{BufRead, Read};
use std::rc::Rc;

/// Bytes the decompressor writes per call.
const STEP: usize = 256 * 1024;

/// The text of one input, gzipped or plain, as a sequence of blocks.
pub(crate) enum Text<R: BufRead> {
    Gzip(MemberGz<R>),
    Plain {
        inner: R,
        /// Bytes of the block handed out last, consumed at the next call.
        last: usize,
    },
}

impl<R: BufRead> Text<R> {
    /// The next block of text; empty at the end. A block is valid until the next call.
    pub(crate) fn next_block(&mut self) -> std::io::Result<&[u8]> {
        match self {
            Text::Gzip(gz) => gz.next_block(),
            Text::Plain { inner, last } => {
                inner.consume(std::mem::take(last));
                loop {
                    match inner.fill_buf() {
                        Ok(b) => {
                            *last = b.len();
                            // Re-borrowed: the loop's borrow ends here.
                            return inner.fill_buf();
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
}

/// Bytes of a chunk of held text, and so the most a gzip block hands on.
const CHUNK: usize = 1 << 20;

/// Multi-member gzip whose text is handed on only once each member's checksum has verified,
/// so records decoded from a corrupt member never land. A member's text is held up to
/// `hold` bytes; a larger member's text is handed on before its end, and `unverified` says
/// so until that member verifies. A stream cut short (truncated) hands on what it decoded:
/// those bytes are the member's own, only the rest is missing.
///
/// The text is held in chunks of 1 MiB that the decompressor writes straight into and that
/// are then handed out, one block each, and reused from member to member (the caller is done
/// with a block when it asks for the next). Chunks rather than one growing buffer: a held
/// member costs its size rounded up to a chunk, not up to a power of two, and is never
/// copied to grow. When the input is done its chunks go to the thread's spares, for the
/// thread's next input: allocating and zeroing them afresh for every input was about a
/// gigabyte of page faults per gigabyte of text.
pub(crate) struct MemberGz<R: BufRead> {
    state: Option<GzState<R>>,
    /// Allocated chunks; the held text fills them in order.
    chunks: Vec<Box<[u8]>>,
    /// Bytes of text held.
    held: usize,
    /// While the held text is handed out: the next chunk to hand out.
    handing: Option<usize>,
    hold: usize,
    unverified: Rc<Cell<bool>>,
    /// An error to report once the text before it has been handed out.
    error: Option<std::io::Error>,
}

thread_local! {
    /// Chunks of inputs done on this thread, for the next (at most a held member's worth).
    static SPARE_CHUNKS: std::cell::RefCell<Vec<Box<[u8]>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl<R: BufRead> Drop for MemberGz<R> {
    fn drop(&mut self) {
        let keep = self.hold.div_ceil(CHUNK);
        SPARE_CHUNKS.with(|s| {
            let mut spare = s.borrow_mut();
            let room = keep.saturating_sub(spare.len());
            spare.extend(self.chunks.drain(..).take(room));
        });
    }
}

enum GzState<R: BufRead> {
    Between(R),
    Member(Box<flate2::bufread::GzDecoder<R>>),
}

impl<R: BufRead> MemberGz<R> {
    pub(crate) fn new(inner: R, hold: usize, unverified: Rc<Cell<bool>>) -> Self {
        Self {
            state: Some(GzState::Between(inner)),
            chunks: Vec::new(),
            held: 0,
            handing: None,
            hold: hold.max(1),
            unverified,
            error: None,
        }
    }

    fn next_block(&mut self) -> std::io::Result<&[u8]> {
        if let Some(i) = self.handing {
            if i * CHUNK < self.held {
                self.handing = Some(i + 1);
                let len = (self.held - i * CHUNK).min(CHUNK);
                return Ok(&self.chunks[i][..len]);
            }
            self.handing = None;
            self.held = 0;
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.fill()? {
            return Ok(&[]);
        }
        self.next_block()
    }

    /// Hands the held text out, chunk by chunk.
    fn hand_on(&mut self) {
        self.handing = Some(0);
    }

    /// Decodes until there is text to hand on, the stream ends (false) or fails.
    fn fill(&mut self) -> std::io::Result<bool> {
        loop {
            match self.state.take() {
                None => return Ok(false),
                Some(GzState::Between(mut r)) => {
                    let more = !r.fill_buf()?.is_empty();
                    if !more {
                        self.state = Some(GzState::Between(r));
                        return Ok(false);
                    }
                    self.state = Some(GzState::Member(Box::new(flate2::bufread::GzDecoder::new(
                        r,
                    ))));
                }
                Some(GzState::Member(mut d)) => {
                    let (chunk, at) = (self.held / CHUNK, self.held % CHUNK);
                    if chunk == self.chunks.len() {
                        let spare = SPARE_CHUNKS.with(|s| s.borrow_mut().pop());
                        self.chunks
                            .push(spare.unwrap_or_else(|| vec![0; CHUNK].into_boxed_slice()));
                    }
                    let end = (at + STEP).min(CHUNK);
                    match d.read(&mut self.chunks[chunk][at..end]) {
                        Ok(0) => {
                            // The member ended and its checksum verified.
                            self.unverified.set(false);
                            self.state = Some(GzState::Between(d.into_inner()));
                            if self.held > 0 {
                                self.hand_on();
                                return Ok(true);
                            }
                        }
                        Ok(n) => {
                            self.held += n;
                            self.state = Some(GzState::Member(d));
                            if self.held >= self.hold {
                                self.unverified.set(true);
                                self.hand_on();
                                return Ok(true);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                            self.state = Some(GzState::Member(d));
                        }
                        Err(e) => {
                            if e.kind() == std::io::ErrorKind::UnexpectedEof && self.held > 0 {
                                self.hand_on();
                                self.error = Some(e);
                                return Ok(true);
                            }
                            self.held = 0;
                            return Err(e);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(text: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(text).expect("in memory");
        e.finish().expect("in memory")
    }

    fn all_blocks<R: BufRead>(t: &mut Text<R>) -> (Vec<Vec<u8>>, Option<std::io::Error>) {
        let mut blocks = Vec::new();
        loop {
            match t.next_block() {
                Ok([]) => return (blocks, None),
                Ok(b) => blocks.push(b.to_vec()),
                Err(e) => return (blocks, Some(e)),
            }
        }
    }

    /// A reader that counts the bytes its consumer has taken.
    struct Counted<'a> {
        data: &'a [u8],
        taken: Rc<Cell<usize>>,
    }

    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.data.read(buf)?;
            self.taken.set(self.taken.get() + n);
            Ok(n)
        }
    }

    impl BufRead for Counted<'_> {
        fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
            Ok(self.data)
        }
        fn consume(&mut self, n: usize) {
            self.data = &self.data[n..];
            self.taken.set(self.taken.get() + n);
        }
    }

    #[test]
    fn a_member_below_the_hold_is_handed_on_in_chunks_once_it_verified() {
        let a: Vec<u8> = (0..2_800_000u32).map(|i| (i % 251) as u8).collect();
        let first = gz(&a);
        let mut data = first.clone();
        data.extend(gz(b"second member\n"));
        let taken = Rc::new(Cell::new(0));
        let input = Counted {
            data: &data,
            taken: taken.clone(),
        };
        let unverified = Rc::new(Cell::new(false));
        let mut t = Text::Gzip(MemberGz::new(input, 16 << 20, unverified.clone()));
        let block = t.next_block().expect("decodes").to_vec();
        assert!(
            taken.get() >= first.len(),
            "the first block came after the whole first member ({} of {} bytes read)",
            taken.get(),
            first.len()
        );
        assert_eq!(block.len(), CHUNK);
        let (rest, err) = all_blocks(&mut t);
        assert!(err.is_none());
        let sizes: Vec<usize> = rest.iter().map(Vec::len).collect();
        assert_eq!(sizes, [CHUNK, 2_800_000 - 2 * CHUNK, 14]);
        assert_eq!([block, rest[0].clone(), rest[1].clone()].concat(), a);
        assert_eq!(rest[2], b"second member\n");
        assert!(!unverified.get());
    }

    #[test]
    fn a_member_past_the_hold_is_handed_on_unverified() {
        let a: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let data = gz(&a);
        let unverified = Rc::new(Cell::new(false));
        let mut t = Text::Gzip(MemberGz::new(&data[..], 1 << 20, unverified.clone()));
        let first = t.next_block().expect("decodes").to_vec();
        assert_eq!(first.len(), CHUNK);
        assert!(unverified.get());
        let (rest, err) = all_blocks(&mut t);
        assert!(err.is_none());
        let joined: Vec<u8> = std::iter::once(first).chain(rest).flatten().collect();
        assert_eq!(joined, a);
        assert!(!unverified.get(), "the member verified at its end");
    }

    #[test]
    fn a_truncated_member_hands_on_its_text_then_fails() {
        let a: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8 + b'a').collect();
        let data = gz(&a);
        let cut = &data[..data.len() - 12];
        let mut t = Text::Gzip(MemberGz::new(cut, 16 << 20, Rc::new(Cell::new(false))));
        let (blocks, err) = all_blocks(&mut t);
        let err = err.expect("the cut is reported");
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        let joined: Vec<u8> = blocks.into_iter().flatten().collect();
        assert!(!joined.is_empty() && a.starts_with(&joined));
    }

    #[test]
    fn the_next_input_on_a_thread_reuses_the_chunks_and_sees_only_its_own_text() {
        std::thread::spawn(|| {
            let spares = || SPARE_CHUNKS.with(|s| s.borrow().len());
            let a: Vec<u8> = (0..2_500_000u32).map(|i| (i % 241) as u8).collect();
            let data = gz(&a);
            let mut t = Text::Gzip(MemberGz::new(&data[..], 2 << 20, Rc::new(Cell::new(false))));
            let (blocks, _) = all_blocks(&mut t);
            assert_eq!(blocks.concat(), a);
            drop(t);
            // Its chunks are kept for the next input: the hold's worth, two.
            assert_eq!(spares(), 2);
            let data = gz(b"short\n");
            let mut t = Text::Gzip(MemberGz::new(&data[..], 2 << 20, Rc::new(Cell::new(false))));
            let (blocks, err) = all_blocks(&mut t);
            assert!(err.is_none());
            assert_eq!(blocks, [b"short\n".to_vec()]);
            assert_eq!(spares(), 1);
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn plain_text_comes_in_the_readers_blocks() {
        let a: Vec<u8> = (0..100_000u32).map(|i| (i % 26) as u8 + b'a').collect();
        let mut t = Text::Plain {
            inner: std::io::BufReader::with_capacity(4096, &a[..]),
            last: 0,
        };
        let (blocks, err) = all_blocks(&mut t);
        assert!(err.is_none());
        assert!(blocks.iter().all(|b| b.len() <= 4096));
        assert_eq!(blocks.concat(), a);
    }
}
