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
