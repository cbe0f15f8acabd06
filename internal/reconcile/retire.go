package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// Drops are retirements. Materialize runs DROP only as a statement of its
// own, so it cannot share a DDL transaction with the lease's fence: a
// holder that passed the fencing check and then stalled could drop, late,
// a schema the next holder has built or kept under the same name. So a
// planned drop of a version schema (or of an object) is carried out in two
// steps:
//
//  1. one DDL transaction, fenced by the lease, renames it to its trash
//     name, model.TrashName(token, name): it commits only while this
//     holder holds the lease, and takes it out of the namespace: no plan,
//     alias or build of anyone ever uses that name again;
//  2. DROP ... CASCADE of the trash name, a lone statement. A stale holder
//     can only ever drop its own trash.
//
// Between the two, the trash schema is read once more: should an object
// outside it have come to depend on it since the plan (the plan refuses
// such drops), it is renamed back in another fenced transaction and the
// drop fails naming the dependents; the next plan reports the drop as
// refused, as it would have been. If the DROP itself fails, or the process
// dies before it, the trash stays: status lists it, and the next holder's
// plan drops it (trashChanges), checking dependents again.
type retirement struct {
	// schema is set for a version schema; kind and ref for an object.
	schema string
	kind   model.Kind
	ref    model.Ref
}

// retirementOf recognizes the drop statements of the plan: the drop of a
// schema (never of one already in the trash) and the drop of an unmarked
// object before it is created again.
func retirementOf(c Change, stmt string) (retirement, bool) {
	switch {
	case c.Op == OpDrop && c.Kind == KindSchema && !model.IsTrash(c.Target) && stmt == sqlDropSchema(c.Target):
		return retirement{schema: c.Target}, true
	case c.Op == OpCreate && c.Destructive && len(c.Objects) == 1 && stmt == sqlDropObject(model.Kind(c.Kind), c.Objects[0]):
		return retirement{kind: model.Kind(c.Kind), ref: c.Objects[0]}, true
	}
	return retirement{}, false
}

// tokenOf is the lease token db is fenced with; a session without a lease
// (tests, tools) retires under a token of its own.
func tokenOf(db DB) string {
	if f, ok := db.(*fencedDB); ok {
		return f.l.token
	}
	return "x" + newToken()
}

func retire(ctx context.Context, db DB, r retirement) error {
	token := tokenOf(db)
	if r.schema == "" {
		trash := model.TrashName(token, r.ref.Name)
		if err := db.Exec(ctx, "BEGIN; ALTER "+r.kind.SQLName()+" "+r.ref.Quoted()+" RENAME TO "+model.QuoteIdent(trash)+"; COMMIT"); err != nil {
			return fmt.Errorf("retire %s: %w", r.ref, err)
		}
		// RESTRICT: it fails rather than take a dependent along.
		if err := db.Exec(ctx, sqlDropObject(r.kind, model.Ref{Schema: r.ref.Schema, Name: trash})); err != nil {
			return fmt.Errorf("drop %s, retired to %s (left there: it is not used and is unowned): %w", r.ref, trash, err)
		}
		return nil
	}
	name := r.schema
	trash := model.TrashName(token, name)
	if err := db.Exec(ctx, "BEGIN; "+sqlRenameSchema(name, trash)+"; COMMIT"); err != nil {
		return fmt.Errorf("retire schema %s to %s: %w", name, trash, err)
	}
	deps, err := outsideDependents(ctx, db, trash)
	if err != nil {
		return fmt.Errorf("schema %s, retired to %s and left there (the next apply drops it): check its dependents: %w", name, trash, err)
	}
	if len(deps) > 0 {
		why := fmt.Sprintf("drop of schema %s refused: depended on by %s since the plan", name, strings.Join(deps, ", "))
		if err := db.Exec(ctx, "BEGIN; "+sqlRenameSchema(trash, name)+"; COMMIT"); err != nil {
			return fmt.Errorf("%s; it stays retired as %s, and the next apply reports it: renaming it back failed: %w", why, trash, err)
		}
		return errors.New(why + "; renamed back")
	}
	if err := db.Exec(ctx, sqlDropSchema(trash)); err != nil {
		return fmt.Errorf("drop schema %s, retired to %s (left there: the next apply drops it): %w", name, trash, err)
	}
	return nil
}

// outsideDependents lists the objects outside schema that depend on an
// object inside it, in any database, as schema.name (or the ID).
func outsideDependents(ctx context.Context, db DB, schema string) ([]string, error) {
	rows, err := db.QueryRows(ctx, `SELECT DISTINCT d.object_id, COALESCE(ds.name || '.' || o.name, d.object_id)
  FROM mz_internal.mz_object_dependencies d
  JOIN mz_catalog.mz_objects r ON r.id = d.referenced_object_id
  JOIN mz_catalog.mz_schemas s ON s.id = r.schema_id
  JOIN mz_catalog.mz_databases db ON db.id = s.database_id
  LEFT JOIN mz_catalog.mz_objects o ON o.id = d.object_id
  LEFT JOIN mz_catalog.mz_schemas ds ON ds.id = o.schema_id
 WHERE db.name = current_database() AND s.name = `+model.QuoteLiteral(schema)+`
   AND (o.schema_id IS NULL OR o.schema_id <> s.id)
 ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		if len(r) == 2 {
			out = append(out, r[1])
		}
	}
	return out, nil
}
