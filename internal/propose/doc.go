// Package propose writes the next version's manifest for a schema whose
// active version has drifted from upstream: the same tables, views and
// indexes under a new version name, so that re-ingesting the tables picks
// up upstream's current columns. A person reviews it in a pull request,
// adjusts view SQL where a breaking change needs it, and switches active.
//
// It is pure: it renders bytes from model values and a drift report and
// never writes files or talks to a database; cmd/mzsync writes the files.
package propose
