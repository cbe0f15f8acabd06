package mzemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mzsync/mzsync/internal/model"
)

// Materialize accepts identifiers of up to 255 bytes; PostgreSQL truncates
// them to 63 (NAMEDATALEN - 1). mzemu keeps the Materialize name and gives
// the backing object a backing name: names of at most 63 bytes are their
// own backing name; a longer one is mapped onto a prefix of it plus a hash
// of the whole name, so two names sharing their first 63 bytes stay
// distinct. The mapping is recorded in mzemu_meta.long_names (read back by
// mzemu_meta.mz_name in every catalog relation) and in memory (for error
// texts and result column names).

// maxBackingIdent is PostgreSQL's identifier length limit.
const maxBackingIdent = 63

// backingHashLen is the length of the hash suffix of a backing name.
const backingHashLen = 16

// longNames maps backing names onto Materialize names (process-wide: the
// mapping is a pure function of the name).
var longNames sync.Map

// reBackingHash finds the hash suffix of a backing name.
var reBackingHash = regexp.MustCompile(`_[0-9a-f]{16}`)

// backingIdent is the backing database's name for a Materialize
// identifier.
func backingIdent(name string) string {
	if len(name) <= maxBackingIdent {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	cut := maxBackingIdent - 1 - backingHashLen
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	b := name[:cut] + "_" + hex.EncodeToString(sum[:backingHashLen/2])
	longNames.Store(b, name)
	return b
}

// backingQuote quotes an identifier for the backing database.
func backingQuote(name string) string { return model.QuoteIdent(backingIdent(name)) }

// toBackingSQL rewrites the identifiers of over 63 bytes in SQL text to
// their (quoted) backing names. It returns the text unchanged (and no
// mapping) when there are none.
func toBackingSQL(sql string) (string, map[string]string) {
	if !mayHaveLongIdent(sql) {
		return sql, nil
	}
	var b strings.Builder
	var used map[string]string
	last := 0
	for _, t := range lex(sql) {
		if (t.kind != tokWord && t.kind != tokIdent) || len(t.val) <= maxBackingIdent {
			continue
		}
		if used == nil {
			used = map[string]string{}
		}
		bn := backingIdent(t.val)
		used[bn] = t.val
		b.WriteString(sql[last:t.start])
		b.WriteString(model.QuoteIdent(bn))
		last = t.end
	}
	if used == nil {
		return sql, nil
	}
	b.WriteString(sql[last:])
	return b.String(), used
}

// mayHaveLongIdent reports whether sql has a run of more than 63 bytes
// without whitespace, which every identifier of over 63 bytes that is not
// quoted has (a quoted one may contain spaces, so a double quote counts).
func mayHaveLongIdent(sql string) bool {
	if len(sql) <= maxBackingIdent {
		return false
	}
	if strings.IndexByte(sql, '"') >= 0 {
		return true
	}
	run := 0
	for i := 0; i < len(sql); i++ {
		if isIdentPart(sql[i]) {
			if run++; run > maxBackingIdent {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// fromBackingText replaces backing names in a text (an error message, a
// column name) with their Materialize names.
func fromBackingText(s string) string {
	if !reBackingHash.MatchString(s) {
		return s
	}
	longNames.Range(func(k, v any) bool {
		if strings.Contains(s, k.(string)) {
			s = strings.ReplaceAll(s, k.(string), v.(string))
		}
		return true
	})
	return s
}

// recordLongNames stores mappings in the backing database, in the
// current backing transaction, so that catalog relations show the
// Materialize names.
func (ss *session) recordLongNames(ctx context.Context, used map[string]string) error {
	var bs, ns []string
	for b, n := range used {
		bs = append(bs, b)
		ns = append(ns, n)
	}
	_, err := ss.qRaw(ctx, `INSERT INTO mzemu_meta.long_names (backing, name)
SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, bs, ns)
	return err
}

// loadLongNames reads the recorded mappings (at start, so error texts of
// objects another mzemu process created show their names).
func loadLongNames(rows [][][]byte) {
	for _, r := range rows {
		longNames.Store(string(r[0]), string(r[1]))
	}
}
