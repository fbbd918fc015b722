#![allow(missing_docs)] // criterion_group! generates an undocumented function

//! Criterion benches per ingest stage, on generated v5 text of the realistic shape: inflating
//! the gzip object, the record parser alone (a line at a time and a block at a time),
//! parsing plus Arrow batch building (at several batch sizes), and Parquet encoding of the
//! batches.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::io::Read;
use vpcflow_arrow::{DecodeEvent, FlowDecoderBuilder};
use vpcflow_format::{Layout, RecordParser};

/// About 50,000 generated v5 records as text, header included.
fn input() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = vpcflow_gen::GenOptions {
        out: dir.path().to_path_buf(),
        records: 50_000,
        files: 1,
        ..Default::default()
    };
    vpcflow_gen::generate(&opts).expect("generate");
    let mut text = Vec::new();
    let mut stack = vec![dir.path().join("AWSLogs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let f = std::fs::File::open(p).expect("open");
                let mut object = Vec::new();
                flate2::read::MultiGzDecoder::new(f)
                    .read_to_end(&mut object)
                    .expect("gunzip");
                // One header line: the objects of all flow logs share the layout.
                let body = object.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
                text.extend_from_slice(if text.is_empty() {
                    &object
                } else {
                    &object[body..]
                });
            }
        }
    }
    text
}

fn benches(c: &mut Criterion) {
    let text = input();
    let header_end = text.iter().position(|&b| b == b'\n').expect("header") + 1;
    let layout = Layout::from_header_line(&text[..header_end]).expect("header");
    let body = &text[header_end..];
    let records = body.iter().filter(|&&b| b == b'\n').count() as u64;

    // Inflate: the same text gzipped as AWS's objects are, decompressed by the crate and
    // backend the ingest uses (flate2 on zlib-rs).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &text).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let mut g = c.benchmark_group("inflate");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("gzip member (flate2, zlib-rs)", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(text.len());
            flate2::read::MultiGzDecoder::new(&gz[..])
                .read_to_end(&mut out)
                .expect("gunzip");
            assert_eq!(out.len(), text.len());
        })
    });
    g.finish();

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(body.len() as u64));
    let parser = RecordParser::new(layout.clone());
    g.bench_function("records (nom, no allocation)", |b| {
        b.iter(|| {
            let mut values = Vec::with_capacity(layout.len());
            let mut n = 0u64;
            for line in body.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
                parser.parse(line, &mut values).expect("valid line");
                n += 1;
            }
            assert_eq!(n, records);
        })
    });
    // How the decoder reads them: blocks of record lines, a column at a time.
    let lines: Vec<&str> = body
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| vpcflow_format::record_text(l).expect("a record line"))
        .collect();
    g.bench_function("records, 128 at a time (column by column)", |b| {
        let mut block = vpcflow_format::Block::default();
        b.iter(|| {
            let mut n = 0u64;
            for chunk in lines.chunks(128) {
                assert!(parser.parse_block(chunk, &mut block));
                n += block.rows() as u64;
            }
            assert_eq!(n, records);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("decode_to_arrow");
    g.throughput(Throughput::Bytes(body.len() as u64));
    for batch_size in [1024usize, 8192, 65536] {
        g.bench_with_input(
            BenchmarkId::new("batch_size", batch_size),
            &batch_size,
            |b, &bs| {
                let builder = FlowDecoderBuilder::new(layout.clone()).with_batch_size(bs);
                b.iter(|| {
                    let mut d = builder.build_decoder("bench".into(), None);
                    let mut rows = 0usize;
                    let mut emit = |e: DecodeEvent<'_>| {
                        if let DecodeEvent::Batch(_, batch) = e {
                            rows += batch.num_rows();
                        }
                    };
                    d.decode(body, true, &mut emit).expect("decode");
                    d.finish(&mut emit).expect("finish");
                    assert_eq!(rows as u64, records);
                })
            },
        );
    }
    g.finish();

    let mut batches = Vec::new();
    let mut d = FlowDecoderBuilder::new(layout.clone()).build_decoder("bench".into(), None);
    let mut emit = |e: DecodeEvent<'_>| {
        if let DecodeEvent::Batch(_, batch) = e {
            batches.push(batch);
        }
    };
    d.decode(body, true, &mut emit).expect("decode");
    d.finish(&mut emit).expect("finish");
    let mut g = c.benchmark_group("parquet");
    g.throughput(Throughput::Elements(records));
    g.sample_size(20);
    // The dataset writer's settings for a file.
    let props = vpcflow_dataset::writer::writer_properties();
    g.bench_function("encode (zstd 1, dictionary, page statistics)", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(8 << 20);
            let mut w = vpcflow_dataset::parquet_file::FlowFileWriter::try_new(
                &mut out,
                vpcflow_arrow::flow_schema(),
                props.clone(),
            )
            .expect("writer");
            for batch in &batches {
                w.write(batch).expect("write");
            }
            w.into_inner().expect("close");
            out.len()
        })
    });
    // The same with parquet's own writer, whose string columns' encoding the dataset's
    // replaces (crates/dataset/src/strings.rs).
    g.bench_function("encode, parquet's ArrowWriter", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(8 << 20);
            let mut w = parquet::arrow::ArrowWriter::try_new(
                &mut out,
                vpcflow_arrow::flow_schema(),
                Some(props.clone()),
            )
            .expect("writer");
            for batch in &batches {
                w.write(batch).expect("write");
            }
            w.close().expect("close");
            out.len()
        })
    });
    g.finish();
}

criterion_group!(decode, benches);
criterion_main!(decode);
