/** The CLI's help texts: the overview and one page per command. */

export const GLOBAL_HELP = `artifact-store: keep diffs, logs and test results per spec and task.

Usage: artifact-store <command> [options]
       artifact-store --version

Commands:
  serve       start the HTTP server (Bun when run by bun, else Node)
  upload      store a file (or stdin) as a new version
  download    write a version to stdout or a file, verified
  search      list stored versions, newest first
  rm          delete one version, or every version of an artifact
  cleanup     delete expired artifacts (retention sweep); --dry-run lists them
  stats       usage per type and spec, and the quota
  gc          finish interrupted uploads and deletes, remove orphaned objects
  verify      check every stored checksum; flag and list corrupt versions
  reindex     rebuild the metadata database from each task's metadata.json
  convert-layout  move a store of the first layout (v<N>/ folders, sidecars) to the seed's tree
  config      show the configuration in effect (or every key with its default: --defaults)

Options for every command:
  --server URL    act on a running server instead of the local store  [env ARTIFACT_STORE_URL]
  --token T       bearer token for --server                           [env ARTIFACT_STORE_TOKEN]
  --config FILE   config file (default ~/.necrocode/config/artifact-store.yaml) [env ARTIFACT_STORE_CONFIG]
  --json          machine-readable output on stdout
  -h, --help      help for a command: artifact-store upload --help
  --version       print the version and exit

Exit codes: 0 ok, 1 failure, 2 bad input or usage (a --server that is not an http(s) URL, an
output directory that does not exist), 3 not found, 4 checksum mismatch, corrupt data or a
secret refused (redaction mode reject), 5 quota exceeded, disk full or too large, 6 unauthorized
or forbidden, 7 bad config.`;

export const COMMAND_HELP: Record<string, string> = {
  serve: `Usage: artifact-store serve [--host H] [--port N] [--config FILE]

Starts the HTTP API (default 127.0.0.1:8787, from server.host/server.port in the config).
With no tokens configured it listens on loopback only. SIGTERM/SIGINT let in-flight
requests finish (server.shutdown_timeout) before exiting.`,
  upload: `Usage: artifact-store upload FILE|- --spec S --task T --type TYPE [--tag X]... [--meta k=v]... [--sha256 HEX]

Stores FILE (or standard input with -) as the next version of (spec, task, type): one file
per run (each run stores one version).
Types: diff, log, test, or any declared in the config.
  --tag X        tag the version (repeatable)
  --meta k=v     metadata key and value (repeatable; values that parse as JSON are kept as JSON)
  --sha256 HEX   refuse to store unless the content has this SHA-256
Prints the URI (or the metadata with --json). Shows progress on a terminal.`,
  download: `Usage: artifact-store download (URI | --spec S --task T --type TYPE [--version N]) [-o FILE]

Writes the content to FILE (atomically: nothing is left behind on failure) or to stdout.
FILE's directory must exist (exit code 2 otherwise). The SHA-256 is checked while streaming;
a mismatch exits with code 4.`,
  search: `Usage: artifact-store search [--spec S] [--task T] [--type TYPE] [--tag X]... [--since DATE] [--until DATE]
                            [--latest] [--limit N] [--cursor C] [--all]

Lists committed versions, newest first (default 100). --all follows every page.
DATE is ISO 8601 (2026-11-01 or 2026-11-01T12:00:00Z).`,
  rm: `Usage: artifact-store rm (URI | --spec S --task T --type TYPE [--version N])

Deletes one version, or every version when --version is left out. Exits 3 when nothing matched.`,
  cleanup: `Usage: artifact-store cleanup [--dry-run] [--limit N]

Deletes versions past their retention (diff 30, log 7, test 14 days by default) that are not
pinned. --dry-run lists what would go and why, deleting nothing.`,
  gc: `Usage: artifact-store gc [--dry-run] [--grace DURATION]

Finishes uploads and deletes a crash interrupted, removes objects no metadata row refers to and
stale staging files, all only when older than the grace period (default 1h; e.g. --grace 30m).
Complete versions without a row are kept and reported: run reindex to restore them.`,
  verify: `Usage: artifact-store verify [--deep]

Reads every stored version and checks its SHA-256. Failures are flagged corrupt (their
downloads then fail closed) and listed; exit code 4 when any is corrupt. --deep also
decompresses and checks the content's checksum. Shows progress on a terminal.`,
  reindex: `Usage: artifact-store reindex [--dry-run]

Rebuilds missing metadata rows from the metadata.json file in each task's folder
(<spec>/<task>/metadata.json), e.g. after the metadata database was lost: versions, tags and
pins come back. Versions that already have a row are left alone; an entry whose blob is
missing or has the wrong size is skipped and reported.`,
  "convert-layout": `Usage: artifact-store convert-layout [--dry-run]

Converts a local store written by releases before the seed's tree (<spec>/<task>/v<N>/<file>
blobs with <type>.metadata.json sidecars) in place: each artifact's latest version moves to
<spec>/<task>/<file>, older versions to <spec>/<task>/versions/v<N>/<file>, every task gets its
metadata.json and the sidecars go. Stop the server first. Resumable and safe to interrupt: run
it again and it carries on where it stopped. --dry-run says what would move. A sidecar whose
version has no metadata row (a lost database) is kept and reported: run reindex with the
previous release first. Exit code 1 when anything was skipped.`,
  config: `Usage: artifact-store config [--defaults] [--config FILE]

Prints this machine's configuration in effect after reading the config file and
ARTIFACT_STORE_* variables, as JSON (tokens appear as their SHA-256 only). A server does not
publish its configuration: with --server this command refuses (exit code 2). --defaults prints every key with its
default value, in the YAML file's own form, ready to copy into
~/.necrocode/config/artifact-store.yaml.`,
  stats: `Usage: artifact-store stats

Artifact counts and bytes per type and spec, the compression ratio, and the quota. The
operation counters (uploads, downloads, failures since start) belong to a running server:
they are shown with --server, and left out for the local store.`,
};
