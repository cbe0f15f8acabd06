package observed

import (
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mzsync/mzsync/internal/model"
)

// decodeDetails reads the upstream table description out of the DETAILS
// option Materialize stores in a source-fed table's CREATE TABLE ... FROM
// SOURCE statement: hex of a protobuf ProtoSourceExportStatementDetails
// (Materialize's storage-types/src/sources.proto). Its postgres arm
// (field 1) holds ProtoPostgresSourceExportStatementDetails, whose field 1
// is the ProtoPostgresTableDesc the table pinned (postgres-util's
// desc.proto): name 1, namespace 2, oid 3, columns 4 (name 1, type_oid 2,
// type_mod 3, nullable 4, col_num 6). Keys (field 5) are not needed: the
// statement's constraints already name them. It returns nil, nil for
// another kind of source (MySQL, ...).
func decodeDetails(hexDetails string) (*model.PinnedUpstream, error) {
	raw, err := hex.DecodeString(hexDetails)
	if err != nil {
		return nil, fmt.Errorf("decode DETAILS: %w", err)
	}
	pg, ok, err := messageField(raw, 1)
	if err != nil || !ok {
		return nil, err
	}
	tbl, ok, err := messageField(pg, 1)
	if err != nil || !ok {
		return nil, err
	}
	p := &model.PinnedUpstream{}
	err = eachField(tbl, func(num protowire.Number, v uint64, b []byte) error {
		switch num {
		case 1:
			p.Ref.Table = string(b)
		case 2:
			p.Ref.Schema = string(b)
		case 3:
			p.OID = uint32(v)
		case 4:
			var c model.UpstreamColumn // proto3 leaves zero values out
			err := eachField(b, func(num protowire.Number, v uint64, b []byte) error {
				switch num {
				case 1:
					c.Name = string(b)
				case 2:
					c.TypeOID = uint32(v)
				case 3:
					c.TypeMod = int32(int64(v))
				case 4:
					c.Nullable = v != 0
				case 6:
					c.Attnum = int(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			p.Columns = append(p.Columns, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decode DETAILS: %w", err)
	}
	return p, nil
}

// messageField returns the last occurrence of the length-delimited field
// num of the message b.
func messageField(b []byte, num protowire.Number) ([]byte, bool, error) {
	var out []byte
	found := false
	err := eachField(b, func(n protowire.Number, _ uint64, v []byte) error {
		if n == num && v != nil {
			out, found = v, true
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("decode DETAILS: %w", err)
	}
	return out, found, nil
}

// eachField calls f for every field of the message b: varints as v,
// length-delimited fields as b (never nil for them); other wire types are
// skipped.
func eachField(b []byte, f func(num protowire.Number, v uint64, b []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if err := f(num, v, nil); err != nil {
				return err
			}
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if v == nil {
				v = []byte{}
			}
			if err := f(num, 0, v); err != nil {
				return err
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return nil
}
