package mzemu

import (
	"encoding/hex"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// exportDetails is the DETAILS option Materialize stores in a source-fed
// table's CREATE TABLE ... FROM SOURCE statement: the hex-encoded
// protobuf ProtoSourceExportStatementDetails
// (storage-types/src/sources.proto) whose postgres arm (field 1) is a
// ProtoPostgresSourceExportStatementDetails holding, in its field 1, the
// upstream table description the table pinned at creation, a
// ProtoPostgresTableDesc (postgres-util/src/desc.proto):
//
//	name 1, namespace 2, oid 3, columns 4, keys 5
//	column: name 1, type_oid 2, type_mod 3, nullable 4, col_num 6
//	key:    oid 1, name 2, cols 3 (packed column numbers), is_primary 4
//
// Materialize writes it with hex::encode (lower case). Proto3 leaves out
// zero values, as prost does.
func exportDetails(d *tableDesc) string {
	var tbl []byte
	tbl = appendString(tbl, 1, d.Table)
	tbl = appendString(tbl, 2, d.Schema)
	tbl = appendUint(tbl, 3, uint64(d.OID))
	for _, c := range d.Columns {
		var col []byte
		col = appendString(col, 1, c.Name)
		col = appendUint(col, 2, uint64(c.TypeOID))
		col = appendUint(col, 3, uint64(int64(c.TypeMod))) // int32: sign-extended varint
		if c.Nullable {
			col = appendUint(col, 4, 1)
		}
		// col_num is proto3 "optional": present even when zero.
		col = protowire.AppendTag(col, 6, protowire.VarintType)
		col = protowire.AppendVarint(col, uint64(c.Num))
		tbl = protowire.AppendTag(tbl, 4, protowire.BytesType)
		tbl = protowire.AppendBytes(tbl, col)
	}
	for _, k := range d.Keys {
		var key []byte
		key = appendUint(key, 1, uint64(k.OID))
		key = appendString(key, 2, k.Name)
		var nums []byte
		for _, name := range k.Columns {
			if i := slices.IndexFunc(d.Columns, func(c colDesc) bool { return c.Name == name }); i >= 0 {
				nums = protowire.AppendVarint(nums, uint64(d.Columns[i].Num))
			}
		}
		if len(nums) > 0 {
			key = protowire.AppendTag(key, 3, protowire.BytesType)
			key = protowire.AppendBytes(key, nums)
		}
		if k.Primary {
			key = appendUint(key, 4, 1)
		}
		tbl = protowire.AppendTag(tbl, 5, protowire.BytesType)
		tbl = protowire.AppendBytes(tbl, key)
	}
	pg := protowire.AppendTag(nil, 1, protowire.BytesType)
	pg = protowire.AppendBytes(pg, tbl)
	out := protowire.AppendTag(nil, 1, protowire.BytesType)
	out = protowire.AppendBytes(out, pg)
	return hex.EncodeToString(out)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}
