//! One large input read by several threads.
//!
//! The worker that reads a large input ([`IngestOptions::split_bytes`]) inflates it and finds
//! its line ends. Workers that have no input left of their own join it as helpers: it hands
//! them blocks of whole lines, with the number of the line before each block and the layout
//! its header lines set, and decodes a block itself whenever its helpers have enough queued.
//! Each helper writes its records to files of its own, which the reading worker commits with
//! the input, or deletes with it when the input does not land. So the records and line
//! numbers are those a single decoder would give, whichever thread decoded them.
//!
//! [`IngestOptions::split_bytes`]: super::IngestOptions::split_bytes

use super::{IngestError, MAX_SAMPLES, Shared, kept_in_range};
use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use vpcflow_arrow::{DecodeEvent, FlowDecoder};
use vpcflow_dataset::writer::{DatasetWriter, PendingFile, QuarantineWriter};
use vpcflow_format::Layout;

/// Blocks queued per helper: enough that a helper never waits on the reader while it
/// inflates, few enough that the reader decodes its share.
const QUEUED_PER_HELPER: usize = 2;

/// A block of whole lines of the input.
struct Block {
    text: Vec<u8>,
    /// Lines of the input before it.
    lines_before: u64,
    layout: Arc<Layout>,
}

/// What the helpers of an input produced together.
#[derive(Default)]
pub(super) struct Helped {
    /// Their Parquet and quarantine files, each holding only this input's lines.
    pub(super) files: Vec<PendingFile>,
    /// Records decoded (out-of-range ones included).
    pub(super) records: u64,
    /// Records left out by the input's time range.
    pub(super) out_of_range: u64,
    pub(super) bad_lines: u64,
    pub(super) samples: Vec<String>,
    pub(super) unknown: BTreeSet<String>,
}

impl Drop for Helped {
    /// Files not taken (the input did not land) go.
    fn drop(&mut self) {
        for f in self.files.drain(..) {
            let _ = std::fs::remove_file(&f.tmp);
        }
    }
}

struct State {
    queue: VecDeque<Block>,
    /// Buffers of decoded blocks, for the next ones.
    spare: Vec<Vec<u8>>,
    /// The reader is done handing out blocks.
    closed: bool,
    /// Helpers working on the input.
    attached: usize,
    helped: Helped,
    error: Option<IngestError>,
}

/// A large input open for helpers.
pub(super) struct SplitInput {
    /// Names the helpers' files (with the helper's number).
    name: String,
    source: Arc<str>,
    flow_log_id: Option<Arc<str>>,
    region: Option<Arc<str>>,
    range: Option<(i64, i64)>,
    state: Mutex<State>,
    changed: Condvar,
    failed: AtomicBool,
}

impl SplitInput {
    pub(super) fn new(
        name: String,
        source: Arc<str>,
        (flow_log_id, region): (Option<Arc<str>>, Option<Arc<str>>),
        range: Option<(i64, i64)>,
    ) -> Self {
        Self {
            name,
            source,
            flow_log_id,
            region,
            range,
            state: Mutex::new(State {
                queue: VecDeque::new(),
                spare: Vec::new(),
                closed: false,
                attached: 0,
                helped: Helped::default(),
                error: None,
            }),
            changed: Condvar::new(),
            failed: AtomicBool::new(false),
        }
    }

    /// The flow log and region of the input's records, as the claim worked them out.
    pub(super) fn origin(&self) -> (Option<Arc<str>>, Option<Arc<str>>) {
        (self.flow_log_id.clone(), self.region.clone())
    }

    /// The time range the input's records are kept in.
    pub(super) fn range(&self) -> Option<(i64, i64)> {
        self.range
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A helper that panicked leaves consistent counts behind: every change is one step.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins the input as a helper unless its reading is over (or has failed).
    pub(super) fn attach(&self) -> bool {
        let mut s = self.lock();
        if s.closed || s.error.is_some() {
            return false;
        }
        s.attached += 1;
        true
    }

    /// Helpers at work on the input; `None` once its reading is over (or has failed).
    pub(super) fn helpers(&self) -> Option<usize> {
        let s = self.lock();
        (!s.closed && s.error.is_none()).then_some(s.attached)
    }

    /// Closes an input whose text went to no helper (Parquet, or one that could not be
    /// opened), so that helpers waiting on it move on.
    pub(super) fn close_unused(&self) {
        let _ = self.close();
    }

    /// A helper failed: the input cannot land.
    pub(super) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Queues `text` (whole lines) for a helper, when one has room; false when the reader is
    /// to decode it itself.
    fn offer(&self, text: &[u8], lines_before: u64, layout: &Arc<Layout>) -> bool {
        let mut s = self.lock();
        if s.attached == 0 || s.error.is_some() || s.queue.len() >= QUEUED_PER_HELPER * s.attached {
            return false;
        }
        let mut buf = s.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(text);
        s.queue.push_back(Block {
            text: buf,
            lines_before,
            layout: layout.clone(),
        });
        drop(s);
        self.changed.notify_all();
        true
    }

    /// Ends the handing out, waits for the helpers to finish, and returns what they made; on
    /// a helper's error, deletes their files and returns the error.
    fn close(&self) -> Result<Helped, IngestError> {
        let mut s = self.lock();
        s.closed = true;
        self.changed.notify_all();
        while s.attached > 0 {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.queue.clear();
        s.spare.clear();
        let helped = std::mem::take(&mut s.helped);
        match s.error.take() {
            // The helpers' files go with `helped`.
            Some(e) => Err(e),
            None => Ok(helped),
        }
    }

    /// The next block for a helper; `None` once the reader is done, the input failed or the
    /// run stops.
    fn next_block(&self, abort: &AtomicBool) -> Option<Block> {
        let mut s = self.lock();
        loop {
            if s.error.is_some() || abort.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(b) = s.queue.pop_front() {
                return Some(b);
            }
            if s.closed {
                return None;
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn detach(&self, outcome: Result<Helped, IngestError>) {
        let mut s = self.lock();
        match outcome {
            Ok(mut h) => {
                let t = &mut s.helped;
                t.files.append(&mut h.files);
                t.records += h.records;
                t.out_of_range += h.out_of_range;
                t.bad_lines += h.bad_lines;
                let room = MAX_SAMPLES.saturating_sub(t.samples.len());
                t.samples.extend(h.samples.drain(..).take(room));
                t.unknown.append(&mut h.unknown);
            }
            Err(e) => {
                self.failed.store(true, Ordering::Relaxed);
                s.error.get_or_insert(e);
            }
        }
        s.attached -= 1;
        drop(s);
        self.changed.notify_all();
    }

    /// Decodes blocks of the input as helper `w` until its reading is over. Call after a
    /// successful [`attach`](Self::attach).
    pub(super) fn help(&self, shared: &Shared<'_>, w: usize) {
        /// Detaches the helper however it stops: should it panic, the input fails rather
        /// than its reader waiting for it forever.
        struct Attached<'a> {
            input: &'a SplitInput,
            outcome: Option<Result<Helped, IngestError>>,
        }
        impl Drop for Attached<'_> {
            fn drop(&mut self) {
                let outcome = self.outcome.take().unwrap_or_else(|| {
                    Err(IngestError::Arrow(format!(
                        "{}: a thread decoding it stopped",
                        self.input.source
                    )))
                });
                self.input.detach(outcome);
            }
        }
        let mut attached = Attached {
            input: self,
            outcome: None,
        };
        attached.outcome = Some(self.decode_blocks(shared, w));
    }

    fn decode_blocks(&self, shared: &Shared<'_>, w: usize) -> Result<Helped, IngestError> {
        let name = format!("{}-h{w}", self.name);
        let root = shared.dataset.staging();
        let mut writer = DatasetWriter::new(root, shared.run_id, name.clone())?.with_max_open(2);
        let mut quarantine = QuarantineWriter::new(root, shared.run_id, &name);
        let mut decoder = shared
            .decoder
            .build_decoder(self.source.clone(), self.flow_log_id.clone());
        let mut helped = Helped::default();
        let decoded = self.decode_into(
            shared,
            &mut decoder,
            &mut writer,
            &mut quarantine,
            &mut helped,
        );
        if decoded.is_err() || shared.abort.load(Ordering::Relaxed) {
            writer.abort();
            quarantine.abort();
            // When the run stops, the input does not land: the cause is another's to tell.
            return decoded.map(|()| Helped::default());
        }
        helped.files = match writer.finish() {
            Ok(files) => files,
            Err(e) => {
                quarantine.abort();
                return Err(e.into());
            }
        };
        helped.files.extend(quarantine.finish()?);
        helped.records = decoder.records();
        helped.bad_lines = decoder.bad_lines();
        helped.unknown = decoder.unknown_fields().clone();
        Ok(helped)
    }

    fn decode_into(
        &self,
        shared: &Shared<'_>,
        decoder: &mut FlowDecoder,
        writer: &mut DatasetWriter,
        quarantine: &mut QuarantineWriter,
        helped: &mut Helped,
    ) -> Result<(), IngestError> {
        let source = &self.source;
        let decode_err = |e: arrow::error::ArrowError| IngestError::Arrow(format!("{source}: {e}"));
        let sink_error: RefCell<Option<IngestError>> = RefCell::new(None);
        let mut emit = |e: DecodeEvent<'_>| {
            if sink_error.borrow().is_some() {
                return;
            }
            let r = match e {
                DecodeEvent::Batch(bucket, batch) => {
                    self.write(batch, helped).and_then(|b| match b {
                        Some(b) => Ok(writer.write(bucket, &b)?),
                        None => Ok(()),
                    })
                }
                DecodeEvent::BadLine { line, error, .. } if shared.opts.strict => {
                    Err(IngestError::Strict(format!("{source}:{line}: {error}")))
                }
                DecodeEvent::BadLine { line, error, text } => {
                    let error = error.to_string();
                    if helped.samples.len() < MAX_SAMPLES {
                        helped.samples.push(format!("{source}:{line}: {error}"));
                    }
                    quarantine
                        .push(source, line, &error, text)
                        .map_err(IngestError::from)
                }
            };
            if let Err(e) = r {
                *sink_error.borrow_mut() = Some(e);
            }
        };
        while let Some(block) = self.next_block(&shared.abort) {
            decoder
                .resume(block.lines_before, &block.layout, &mut emit)
                .map_err(decode_err)?;
            decoder
                .decode(&block.text, false, &mut emit)
                .map_err(decode_err)?;
            self.lock().spare.push(block.text);
            if sink_error.borrow().is_some() {
                break;
            }
        }
        decoder.finish(&mut emit).map_err(decode_err)?;
        match sink_error.into_inner() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The batch as it lands: with the input's region, only the rows in its time range.
    fn write(
        &self,
        batch: arrow::record_batch::RecordBatch,
        helped: &mut Helped,
    ) -> Result<Option<arrow::record_batch::RecordBatch>, IngestError> {
        let batch = match &self.region {
            Some(r) => vpcflow_arrow::fill_region(batch, r)
                .map_err(|e| IngestError::Arrow(format!("{}: {e}", self.source)))?,
            None => batch,
        };
        kept_in_range(batch, self.range, &mut helped.out_of_range)
    }
}

/// The reading side of an input: hands blocks of whole lines to the input's helpers, or
/// decodes them itself, keeping the count of lines and the layout in step. Without helpers
/// (a small input, or no worker idle) it is the decoder alone.
pub(super) struct Lines<'a> {
    decoder: FlowDecoder,
    split: Option<Split<'a>>,
}

struct Split<'a> {
    input: &'a SplitInput,
    /// Lines read so far: handed out or decoded.
    lines: u64,
    layout: Arc<Layout>,
    /// Whether any block went to a helper (until then the decoder alone keeps count).
    handed: bool,
    /// The helpers were stopped and waited for (by `close_helpers`).
    closed: bool,
}

/// A block smaller than this is decoded where it is: the copy and the hand-over would cost
/// more than they save.
const MIN_BLOCK: usize = 64 * 1024;

impl<'a> Lines<'a> {
    pub(super) fn new(decoder: FlowDecoder, input: Option<&'a SplitInput>) -> Self {
        let split = input.map(|input| Split {
            input,
            lines: 0,
            layout: Arc::new(decoder.layout().clone()),
            handed: false,
            closed: false,
        });
        Self { decoder, split }
    }

    /// As [`FlowDecoder::decode`]: consumes the complete lines of `data`, decoding them here
    /// or handing them to a helper.
    pub(super) fn decode(
        &mut self,
        data: &[u8],
        eof: bool,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<usize, arrow::error::ArrowError> {
        let Some(s) = self.split.as_mut() else {
            return self.decoder.decode(data, eof, emit);
        };
        if !eof
            && data.len() >= MIN_BLOCK
            && let Some(last) = memchr::memrchr(b'\n', data)
        {
            let whole = &data[..=last];
            if s.input.offer(whole, s.lines, &s.layout) {
                let (n, header) = vpcflow_arrow::skim(whole);
                s.lines += n;
                if let Some(h) = header {
                    s.layout = Arc::new(h);
                }
                s.handed = true;
                return Ok(whole.len());
            }
        }
        s.resume(&mut self.decoder, emit)?;
        let used = self.decoder.decode(data, eof, emit)?;
        s.follow(&self.decoder);
        Ok(used)
    }

    /// As [`FlowDecoder::reject_line`].
    pub(super) fn reject_line(
        &mut self,
        text: &[u8],
        reason: &'static str,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<(), arrow::error::ArrowError> {
        if let Some(s) = self.split.as_mut() {
            s.resume(&mut self.decoder, emit)?;
        }
        self.decoder.reject_line(text, reason, emit);
        if let Some(s) = self.split.as_mut() {
            s.follow(&self.decoder);
        }
        Ok(())
    }

    /// A helper failed: the reading can stop.
    pub(super) fn failed(&self) -> bool {
        self.split.as_ref().is_some_and(|s| s.input.failed())
    }

    /// Stops handing out blocks and waits for the helpers: what they made, for the input's
    /// stage (their files then go or stay with the input's own).
    pub(super) fn close_helpers(&mut self) -> Result<Helped, IngestError> {
        match self.split.as_mut() {
            Some(s) if !s.closed => {
                s.closed = true;
                s.input.close()
            }
            _ => Ok(Helped::default()),
        }
    }

    pub(super) fn decoder(&mut self) -> &mut FlowDecoder {
        &mut self.decoder
    }

    /// Lines read so far, by this thread and its helpers.
    pub(super) fn lines(&self) -> u64 {
        match &self.split {
            Some(s) if s.handed => s.lines,
            _ => self.decoder.lines(),
        }
    }
}

impl Split<'_> {
    /// Brings the decoder to where the reading is, past the blocks helpers took.
    fn resume(
        &self,
        decoder: &mut FlowDecoder,
        emit: &mut dyn FnMut(DecodeEvent<'_>),
    ) -> Result<(), arrow::error::ArrowError> {
        if self.handed {
            decoder.resume(self.lines, &self.layout, emit)?;
        }
        Ok(())
    }

    /// Takes the line count and layout from the decoder, after it decoded a block.
    fn follow(&mut self, decoder: &FlowDecoder) {
        self.lines = decoder.lines();
        if decoder.layout() != &*self.layout {
            self.layout = Arc::new(decoder.layout().clone());
        }
    }
}

impl Drop for Lines<'_> {
    /// A reading that ends early (an error): the helpers stop, and their files go (with
    /// the [`Helped`] dropped here).
    fn drop(&mut self) {
        let _ = self.close_helpers();
    }
}
