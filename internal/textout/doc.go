// Package textout holds the small pieces every renderer of mzsync shares:
// plain-ASCII text, Markdown and HTML escaping for pull-request comments,
// byte caps that respect UTF-8, and deterministic indented JSON.
//
// It must not know about plans, reports or any mzsync type.
package textout
