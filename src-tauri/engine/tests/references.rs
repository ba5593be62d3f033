//! Reference images: imported, checked, named by jobs of models that take
//! them, and used by the offline remix model; bad references create nothing.

mod common;

use common::{env, new_job};
use easel_engine::providers::offline::{MODEL, REMIX_MODEL};
use easel_engine::{EngineError, ErrorKind, JobStatus, ListQuery, NewJob};
use image::{ImageBuffer, ImageFormat, Rgb};
use std::io::Cursor;

fn solid_png(rgb: [u8; 3]) -> Vec<u8> {
    let img = ImageBuffer::from_pixel(48, 32, Rgb(rgb));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).expect("encode");
    out.into_inner()
}

fn remix(rid: &str, reference_ids: Vec<String>) -> NewJob {
    NewJob {
        model: Some(REMIX_MODEL.into()),
        reference_ids,
        ..new_job(rid, "a harbor, repainted")
    }
}

fn invalid(e: &EngineError) -> bool {
    e.kind() == ErrorKind::InvalidInput
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remix_job_uses_its_reference_image() {
    let t = env();
    let red = t
        .engine
        .import_reference(solid_png([220, 20, 20]))
        .await
        .expect("import");
    assert_eq!((red.width, red.height), (48, 32));
    let job = t
        .engine
        .create_job(remix("r1", vec![red.id.clone()]))
        .await
        .expect("create");
    assert_eq!(job.reference_ids, vec![red.id.clone()]);
    let detail = common::settle(&t.engine, &job.id).await;
    assert_eq!(detail.job.status, JobStatus::Completed);
    assert_eq!(detail.job.reference_ids, vec![red.id]);
    // The output follows the (red) reference: red dominates every region.
    let out = image::open(&detail.assets[0].path).expect("open").to_rgb8();
    let (mut r, mut g, mut b) = (0u64, 0u64, 0u64);
    for px in out.pixels() {
        r += u64::from(px[0]);
        g += u64::from(px[1]);
        b += u64::from(px[2]);
    }
    assert!(r > 2 * g && r > 2 * b, "mean channels r={r} g={g} b={b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_references_are_refused_and_create_nothing() {
    let t = env();
    let png = t
        .engine
        .import_reference(solid_png([1, 2, 3]))
        .await
        .expect("import");
    let cases: Vec<(NewJob, &str)> = vec![
        (
            NewJob {
                model: Some(MODEL.into()),
                ..remix("a", vec![png.id.clone()])
            },
            "does not take reference images",
        ),
        (remix("b", vec!["f".repeat(64)]), "is not stored"),
        (remix("c", vec!["../../etc/passwd".into()]), "is not stored"),
        (
            remix("d", vec![png.id.clone(), png.id.clone()]),
            "attached twice",
        ),
        (
            remix("e", (0..5).map(|i| format!("{i:064}")).collect()),
            "at most 4 reference images",
        ),
    ];
    for (job, expected) in cases {
        let err = t.engine.create_job(job).await.expect_err(expected);
        assert!(invalid(&err), "{err}");
        assert!(
            err.to_string().contains(expected),
            "{err} lacks {expected:?}"
        );
    }
    let jobs = t.engine.list(ListQuery::default()).await.expect("list");
    assert!(jobs.is_empty(), "no job was created");

    for bytes in [b"%PDF-1.7 not an image".to_vec(), Vec::new()] {
        let err = t
            .engine
            .import_reference(bytes)
            .await
            .expect_err("not an image");
        assert!(invalid(&err), "{err}");
    }
}
