// Package desired turns a manifest tree (an fs.FS from a directory or a git
// checkout) into the validated, normalized desired state of
// internal/model, with a deterministic digest per source, object and
// version. It also owns the manifest sources: a local directory, a git
// remote followed through a local cache, and a revision of a local git work
// tree.
//
// It must not talk to Materialize or upstream PostgreSQL, print, or exit;
// logging goes through an injected log/slog logger.
package desired
