/**
 * Shapes several commands' `--json` share, so a script reads a build or an upload the same way from
 * each: a build's record as `status --json`, `build` and `wait` print it, an upload's outcome (`upload`, `build --upload`).
 */
import path from 'node:path';
import type { BuildRecord } from '../night/state.js';
import type { PublishOutcome } from '../store/publish.js';

export function buildJson(build: BuildRecord, nightDir: string) {
  return {
    id: build.id,
    status: build.status,
    started_at: build.started_at ?? null,
    finished_at: build.finished_at ?? null,
    exit_code: build.exit_code ?? null,
    duration_s: build.duration_s ?? null,
    reason: build.reason ?? null,
    // A build that did not succeed: the first line of its log that says what went wrong.
    first_error: build.first_error ?? null,
    // Absolute, like status --json: a script opens it without knowing the night folder.
    log: build.log ? path.join(nightDir, build.log) : null,
    artifacts: (build.artifacts ?? []).map((a) => ({ file: a.file, size: a.size, sha256: a.sha256 })),
    manual: build.manual ?? false,
  };
}

/** `bytes`: what the upload wrote, when it was counted (night.json's upload record), else null. */
export function uploadJson(outcome: PublishOutcome, bytes: number | undefined) {
  return {
    to: outcome.to,
    started_at: outcome.started_at,
    finished_at: outcome.finished_at,
    uploaded: outcome.uploaded,
    skipped: outcome.skipped,
    bytes: bytes ?? null,
    failed: outcome.failed.map((f) => ({ key: f.key, error: f.error })),
    manifest: outcome.manifest ?? null,
    latest: outcome.latest,
  };
}
