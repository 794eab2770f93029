// node's semver.maxSatisfying over the same tags, timed in-process.
const fs = require('fs');
const semver = require(process.argv[4] + '/node_modules/semver');
const tags = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
const range = process.argv[3];
let sel = semver.maxSatisfying(tags, range);
const rounds = 20;
const t0 = process.hrtime.bigint();
for (let i = 0; i < rounds; i++) sel = semver.maxSatisfying(tags, range);
const ns = Number(process.hrtime.bigint() - t0) / rounds;
console.log(`node_ns_per_selection=${Math.round(ns)} selected=${sel} tags=${tags.length}`);
