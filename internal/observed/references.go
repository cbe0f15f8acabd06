package observed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mzsync/mzsync/internal/model"
)

// qSourceReferences reads a source's rows of mz_source_references. The
// columns (text[]) come as text, cast on the server and parsed here, so
// nothing depends on the binary array format.
const qSourceReferences = `SELECT COALESCE(r.namespace, ''), r.name, r.updated_at, COALESCE(r.columns::text, '')
  FROM mz_internal.mz_source_references r WHERE r.source_id = $1`

// RefreshReferences makes Materialize re-read the source's upstream
// publication (ALTER SOURCE ... REFRESH REFERENCES, a DDL statement run
// alone; it needs ownership of the source) and returns the refreshed
// mz_internal.mz_source_references rows, sorted by schema and table. It is
// the fallback for drift when mzsync cannot read upstream itself: it tells
// table and column names only.
func RefreshReferences(ctx context.Context, q Querier, src model.ObservedSource) ([]model.SourceReference, error) {
	name := model.QuoteIdent(src.Schema) + "." + model.QuoteIdent(src.Name)
	rows, err := q.Query(ctx, "ALTER SOURCE "+name+" REFRESH REFERENCES", pgx.QueryExecModeSimpleProtocol)
	if err == nil {
		rows.Close()
		err = rows.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("refresh references of source %s: %w", name, err)
	}
	refs, err := ReadReferences(ctx, q, src.ID)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	return refs, nil
}

// ReadReferences reads the mz_source_references rows of the source with
// the given ID, sorted by schema and table.
func ReadReferences(ctx context.Context, q Querier, sourceID string) ([]model.SourceReference, error) {
	rows, err := q.Query(ctx, qSourceReferences, sourceID)
	if err != nil {
		return nil, fmt.Errorf("read mz_source_references: %w", err)
	}
	defer rows.Close()
	var out []model.SourceReference
	for rows.Next() {
		var r model.SourceReference
		var cols string
		if err := rows.Scan(&r.Ref.Schema, &r.Ref.Table, &r.UpdatedAt, &cols); err != nil {
			return nil, fmt.Errorf("read mz_source_references: %w", err)
		}
		if cols != "" {
			if r.Columns, err = parseTextArray(cols); err != nil {
				return nil, fmt.Errorf("read mz_source_references: columns of %s: %w", r.Ref, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read mz_source_references: %w", err)
	}
	slices.SortFunc(out, func(a, b model.SourceReference) int {
		return cmp.Or(cmp.Compare(a.Ref.Schema, b.Ref.Schema), cmp.Compare(a.Ref.Table, b.Ref.Table))
	})
	return out, nil
}

// parseTextArray parses the text form of a one-dimensional text[] value:
// {a,"b c","d\"e"}. Elements are double-quoted when they need it, with
// '"' and '\' escaped by a backslash; an unquoted NULL is SQL NULL (an
// error here: column names are never NULL).
func parseTextArray(s string) ([]string, error) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("not an array literal: %q", s)
	}
	body := s[1 : len(s)-1]
	out := []string{}
	if body == "" {
		return out, nil
	}
	for i := 0; ; {
		var elem strings.Builder
		if i < len(body) && body[i] == '"' {
			i++
			closed := false
			for i < len(body) {
				c := body[i]
				if c == '\\' && i+1 < len(body) {
					elem.WriteByte(body[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					closed = true
					break
				}
				elem.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted element in %q", s)
			}
		} else {
			j := i
			for j < len(body) && body[j] != ',' {
				if body[j] == '{' || body[j] == '"' {
					return nil, fmt.Errorf("not a one-dimensional text array: %q", s)
				}
				j++
			}
			word := strings.TrimSpace(body[i:j])
			if strings.EqualFold(word, "NULL") {
				return nil, errors.New("NULL element")
			}
			elem.WriteString(word)
			i = j
		}
		out = append(out, elem.String())
		if i >= len(body) {
			return out, nil
		}
		if body[i] != ',' {
			return nil, fmt.Errorf("malformed array literal %q", s)
		}
		i++
	}
}

// refreshMissingReferences runs the REFRESH REFERENCES fallback for every
// declared source whose upstream could not be read (not in ups): each
// success lands in the returned map; each failure is added to that
// source's reason in why.
func refreshMissingReferences(ctx context.Context, q Querier, desired *model.Desired, obs *model.Observed, ups map[string]model.UpstreamState, why map[string]string, timeout time.Duration) map[string][]model.SourceReference {
	out := map[string][]model.SourceReference{}
	for _, s := range desired.Sources {
		if _, ok := ups[s.Name]; ok {
			continue
		}
		i := slices.IndexFunc(obs.Sources, func(o model.ObservedSource) bool { return o.Ref() == s.Ref() })
		if i < 0 {
			continue // not created yet: nothing of it is active
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		refs, err := RefreshReferences(sctx, q, obs.Sources[i])
		cancel()
		if err != nil {
			reason := "REFRESH REFERENCES fallback failed: " + err.Error()
			if why[s.Name] != "" {
				reason = why[s.Name] + "; " + reason
			}
			why[s.Name] = reason
			continue
		}
		out[s.Name] = refs
	}
	return out
}
