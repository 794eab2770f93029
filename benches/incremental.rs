//! Event-to-plan on a large fleet: one image re-planned through the marker
//! index vs a full plan of every marker (`cargo bench --bench incremental`;
//! HOIST_BENCH_FILES, default 20000). Checks that both plans make the same
//! edits to the image's markers, then prints the times and their ratio.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use hoist::core::tags::{TagList, Unobserved};
use hoist::decide::index::{MarkerIndex, plan_images};
use hoist::observe::repo::SourceFile;

const IMAGES: usize = 500;

fn file(rel: String, text: String, markers: bool, flux: bool) -> SourceFile {
    SourceFile {
        abs: rel.clone().into(),
        rel,
        text: Arc::new(text),
        has_markers: markers,
        has_flux_objects: flux,
        has_pull_secrets: false,
    }
}

fn main() {
    let n: usize = std::env::var("HOIST_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut files = Vec::with_capacity(n + IMAGES);
    for i in 0..IMAGES {
        files.push(file(
            format!("flux/img-{i}.yaml"),
            format!(
                "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: img-{i}, namespace: ns}}\nspec: {{image: reg.example/img-{i}, interval: 5m}}\n---\n\
apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: img-{i}, namespace: ns}}\nspec:\n  imageRepositoryRef: {{name: img-{i}}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n"
            ),
            false,
            true,
        ));
    }
    for j in 0..n {
        let k = j % IMAGES;
        files.push(file(
            format!("apps/app-{j}/deploy.yaml"),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{j}\n  labels: {{app: app-{j}, team: t{}}}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: app-{j}}}\n  template:\n    metadata:\n      labels: {{app: app-{j}}}\n    spec:\n      containers:\n        - name: main\n          image: reg.example/img-{k}:1.0.0 # {{\"$imagepolicy\": \"ns:img-{k}\"}}\n          ports: [{{containerPort: 8080}}]\n          resources: {{requests: {{cpu: 10m, memory: 32Mi}}}}\n",
                j % 7
            ),
            true,
            false,
        ));
    }
    let config = hoist::config::Config::default();
    let (objects, _) = hoist::decide::plan::collect_objects(&files, &config);
    let list = TagList {
        tags: (0..50).map(|p| format!("1.0.{p}")).collect(),
        ..Default::default()
    };
    let tags_for = |_: &str| -> Result<&TagList, Unobserved> { Ok(&list) };

    // The bot's index, as the commit before the event left it.
    let mut index = MarkerIndex::default();
    let t = Instant::now();
    index.update(&files);
    let build = t.elapsed();

    let image: BTreeSet<String> = ["reg.example/img-7".to_string()].into();
    let rounds = 5;
    let t = Instant::now();
    let mut full = None;
    for _ in 0..rounds {
        full = Some(hoist::decide::plan::plan_objects(
            &files,
            &objects,
            Vec::new(),
            &config.write,
            tags_for,
        ));
    }
    let full_t = t.elapsed() / rounds;
    let t = Instant::now();
    let mut one = None;
    for _ in 0..rounds {
        one = Some(plan_images(
            &mut index,
            &image,
            &files,
            &objects,
            &config.write,
            tags_for,
        ));
    }
    let one_t = t.elapsed() / rounds;

    // Same edits to img-7's markers.
    let full = full.unwrap();
    let one = one.unwrap();
    let pick = |p: &hoist::decide::plan::Plan| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = p
            .files
            .iter()
            .filter(|f| f.updated.contains("img-7:"))
            .map(|f| (f.file.clone(), f.updated.to_string()))
            .collect();
        v.sort();
        v
    };
    let (a, b) = (pick(&full), pick(&one));
    assert_eq!(a, b, "the index plan differs from the full plan");
    assert_eq!(b.len(), n / IMAGES, "every file of img-7 is planned");
    println!(
        "files={} images={IMAGES} index_build_ms={:.1} full_plan_ms={:.1} one_image_ms={:.2} files_replanned={} ratio={:.0}x",
        files.len(),
        build.as_secs_f64() * 1e3,
        full_t.as_secs_f64() * 1e3,
        one_t.as_secs_f64() * 1e3,
        b.len(),
        full_t.as_secs_f64() / one_t.as_secs_f64()
    );
}
