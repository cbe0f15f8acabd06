package model

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// TrashPrefix starts the name a version schema (or an object) is renamed
// to when mzsync retires it, inside a DDL transaction fenced by the apply
// lease, before dropping it: TrashPrefix + lease token + "_" + name. A
// schema with this prefix and mzsync's marker is out of the namespace: no
// alias, plan or build ever uses it again, and the next lease holder drops
// it if the drop that followed the rename did not happen.
const TrashPrefix = "mzsync_trash_"

// maxIdent is Materialize's identifier limit, in bytes.
const maxIdent = 255

// TrashName is the name under which the holder of lease token retires
// name: TrashPrefix + token + "_" + name, or, when that would exceed 255
// bytes, TrashPrefix + token + "_" + a digest of name.
func TrashName(token, name string) string {
	n := TrashPrefix + token + "_" + name
	if len(n) <= maxIdent {
		return n
	}
	sum := sha256.Sum256([]byte(name))
	return TrashPrefix + token + "_" + hex.EncodeToString(sum[:16])
}

// IsTrash reports whether name is a retired schema's (or object's) name.
func IsTrash(name string) bool { return strings.HasPrefix(name, TrashPrefix) }

// BuildPrefix starts the private schema a lease holder builds a version
// in: BuildPrefix + lease token + "_" + the version's build schema
// (app_v2). The holder creates and comments everything of the version
// there, then publishes it under its build schema name with a rename in a
// DDL transaction fenced by the lease. A private build of any other
// holding is abandoned (that holder can no longer publish it) and is
// dropped by the next holder.
const BuildPrefix = "mzsync_build_"

// PrivateBuildName is where the holder of lease token builds version id.
// When BuildPrefix + token + "_" + id.BuildSchema() would exceed 255 bytes
// the build schema is replaced by a digest of it (the schema's marker
// names the version).
func PrivateBuildName(token string, id VersionID) string {
	n := BuildPrefix + token + "_" + id.BuildSchema()
	if len(n) <= maxIdent {
		return n
	}
	sum := sha256.Sum256([]byte(id.BuildSchema()))
	return BuildPrefix + token + "_" + hex.EncodeToString(sum[:16])
}

// PrivateBuildToken returns the lease token of a private build schema's
// name; ok is false for any other name.
func PrivateBuildToken(name string) (token string, ok bool) {
	rest, found := strings.CutPrefix(name, BuildPrefix)
	if !found {
		return "", false
	}
	token, _, found = strings.Cut(rest, "_")
	return token, found && token != ""
}

// IsPrivateBuild reports whether name is a private build schema's.
func IsPrivateBuild(name string) bool { _, ok := PrivateBuildToken(name); return ok }
