package model

import (
	"fmt"
	"strings"
)

// MarkerPrefix starts every comment mzsync writes. An object whose comment
// does not start with it is not owned by mzsync and is never altered or
// dropped.
const MarkerPrefix = "mzsync:v1"

// SchemaMarker is the marker comment on a version schema. The comment
// follows the schema's ID through swaps and renames, so after a cutover the
// schema named like the alias still says which version it holds.
type SchemaMarker struct {
	// Schema is the alias schema the version belongs to.
	Schema string
	// Version is the version's name.
	Version string
	// Digest is the version digest.
	Digest string
}

// ID returns the version the marker names.
func (m SchemaMarker) ID() VersionID { return VersionID{Schema: m.Schema, Version: m.Version} }

// String encodes the marker: mzsync:v1 schema=app version=v2 digest=sha256:...
func (m SchemaMarker) String() string {
	return fmt.Sprintf("%s schema=%s version=%s digest=%s", MarkerPrefix, escapeValue(m.Schema), escapeValue(m.Version), m.Digest)
}

// ObjectMarker is the marker comment on an owned object or source.
type ObjectMarker struct {
	// Digest is the object's digest.
	Digest string
}

// String encodes the marker: mzsync:v1 digest=sha256:...
func (m ObjectMarker) String() string {
	return fmt.Sprintf("%s digest=%s", MarkerPrefix, m.Digest)
}

// IsMarker reports whether a comment was written by mzsync.
func IsMarker(comment string) bool {
	return comment == MarkerPrefix || strings.HasPrefix(comment, MarkerPrefix+" ")
}

// ParseSchemaMarker decodes a schema marker comment. ok is false when the
// comment is not an mzsync schema marker.
func ParseSchemaMarker(comment string) (m SchemaMarker, ok bool) {
	kv, ok := parseMarker(comment)
	if !ok {
		return m, false
	}
	m = SchemaMarker{Schema: kv["schema"], Version: kv["version"], Digest: kv["digest"]}
	if m.Schema == "" || m.Version == "" {
		return SchemaMarker{}, false
	}
	return m, true
}

// ParseObjectMarker decodes an object marker comment. ok is false when the
// comment is not an mzsync marker.
func ParseObjectMarker(comment string) (m ObjectMarker, ok bool) {
	kv, ok := parseMarker(comment)
	if !ok {
		return m, false
	}
	return ObjectMarker{Digest: kv["digest"]}, true
}

func parseMarker(comment string) (map[string]string, bool) {
	if !IsMarker(comment) {
		return nil, false
	}
	kv := map[string]string{}
	for _, f := range strings.Fields(strings.TrimPrefix(comment, MarkerPrefix)) {
		k, v, found := strings.Cut(f, "=")
		if !found {
			return nil, false
		}
		kv[k] = unescapeValue(v)
	}
	return kv, true
}

// Values are identifiers and may hold spaces or '='; escape them so a
// marker always parses back to what was written.
var valueEscaper = strings.NewReplacer("%", "%25", " ", "%20", "=", "%3D", "\t", "%09", "\n", "%0A")
var valueUnescaper = strings.NewReplacer("%25", "%", "%20", " ", "%3D", "=", "%09", "\t", "%0A", "\n")

func escapeValue(s string) string   { return valueEscaper.Replace(s) }
func unescapeValue(s string) string { return valueUnescaper.Replace(s) }
