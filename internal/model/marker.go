package model

import (
	"fmt"
	"strconv"
	"strings"
)

// MarkerPrefix starts every comment mzsync writes. An object whose comment
// does not start with it is not owned by mzsync and is never altered or
// dropped.
const MarkerPrefix = "mzsync:v1"

// MaxCommentBytes is Materialize's limit on a comment's length. A schema
// marker drops the oldest entries of its history to stay within it.
const MaxCommentBytes = 1024

// The build states a version schema's marker records.
const (
	// StateBuilding: the schema was created and its objects are being
	// created and marked. Everything inside it is mzsync's.
	StateBuilding = "building"
	// StateBuilt: every object was created and marked. Writing it is the
	// last step of a build.
	StateBuilt = "built"
)

// SchemaMarker is the marker comment on a version schema. The comment
// follows the schema's ID through swaps and renames, so after a cutover the
// schema named like the alias still says which version it holds, how far
// its build got, and whether it has ever been live.
type SchemaMarker struct {
	// Schema is the alias schema the version belongs to.
	Schema string
	// Version is the version's name.
	Version string
	// Digest is the version digest.
	Digest string
	// State is StateBuilding or StateBuilt; "" for a marker written before
	// states were recorded (mzsync:v1 without state=).
	State string
	// Live is the sequence number of the version's most recent cutover:
	// the alias schema's versions count 1, 2, 3, ... each time one goes
	// live. Zero: the version has never been live.
	Live int
	// Revision is the manifest revision (a git commit or a content hash)
	// the version went live from; written with the live record. Empty
	// when unknown.
	Revision string
	// History lists the versions live before this one, most recent first,
	// as recorded when this version went live. It outlives the schemas of
	// dropped versions, so retention can rebuild them.
	History []string
}

// ID returns the version the marker names.
func (m SchemaMarker) ID() VersionID { return VersionID{Schema: m.Schema, Version: m.Version} }

// Built reports whether the build finished: state built, or a marker from
// before states were recorded.
func (m SchemaMarker) Built() bool { return m.State != StateBuilding }

// String encodes the marker:
//
//	mzsync:v1 schema=app version=v2 digest=sha256:... revision=<commit> state=built live=3 history=v1,v0
//
// History entries are dropped from the oldest until the comment fits in
// MaxCommentBytes.
func (m SchemaMarker) String() string {
	base := fmt.Sprintf("%s schema=%s version=%s digest=%s", MarkerPrefix, escapeValue(m.Schema), escapeValue(m.Version), m.Digest)
	if m.Revision != "" {
		base += " revision=" + escapeValue(m.Revision)
	}
	if m.State != "" {
		base += " state=" + escapeValue(m.State)
	}
	if m.Live > 0 {
		base += " live=" + strconv.Itoa(m.Live)
	}

	hist := make([]string, len(m.History))
	for i, h := range m.History {
		hist[i] = escapeValue(h)
	}
	for n := len(hist); n > 0; n-- {
		s := base + " history=" + strings.Join(hist[:n], ",")
		if len(s) <= MaxCommentBytes {
			return s
		}
	}
	return base
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
	m = SchemaMarker{Schema: kv["schema"], Version: kv["version"], Digest: kv["digest"], State: kv["state"], Revision: kv["revision"]}
	if m.Schema == "" || m.Version == "" {
		return SchemaMarker{}, false
	}
	switch m.State {
	case "", StateBuilding, StateBuilt:
	default:
		// A state this mzsync does not know: treat the build as unfinished,
		// which never lets a cutover reach it.
		m.State = StateBuilding
	}
	if l, err := strconv.Atoi(kv["live"]); err == nil && l > 0 {
		m.Live = l
	}
	if h := kv["rawhistory"]; h != "" {
		for _, v := range strings.Split(h, ",") {
			if v != "" {
				m.History = append(m.History, unescapeValue(v))
			}
		}
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
		if k == "history" {
			// A list: split before unescaping, since values may hold ','.
			kv["rawhistory"] = v
			continue
		}
		kv[k] = unescapeValue(v)
	}
	return kv, true
}

// Values are identifiers and may hold spaces, '=' or ','; escape them so a
// marker always parses back to what was written.
var valueEscaper = strings.NewReplacer("%", "%25", " ", "%20", "=", "%3D", "\t", "%09", "\n", "%0A", ",", "%2C")
var valueUnescaper = strings.NewReplacer("%25", "%", "%20", " ", "%3D", "=", "%09", "\t", "%0A", "\n", "%2C", ",")

func escapeValue(s string) string   { return valueEscaper.Replace(s) }
func unescapeValue(s string) string { return valueUnescaper.Replace(s) }
