// Package prdiff compares the desired states of two revisions of a manifest
// repository, offline, and says what merging the head into the base will
// do: sources and schemas added or removed, versions added, removed or
// (wrongly) modified, active versions switched, retention changes and the
// drops they imply. It flags what a reviewer should look at twice: a change
// to a released version (versions are immutable), a new version
// byte-identical to the active one, and a switch of the active version to
// one the base does not keep built (a rebuild, not an instant rollback).
//
// It owns the comparison (Compare), its report (Report, Finding) and the
// report's text, JSON and Markdown renderings, the last sized for a
// pull-request comment and carrying a stable hidden marker (Marker) so a CI
// step can find and update its one comment.
//
// It is pure: it takes model.Desired values that the caller loaded, does no
// I/O beyond writing a rendering to the io.Writer it is given, and never
// talks to git or Materialize. "Released" means present in the base: the
// comparison cannot know what was actually applied.
package prdiff
