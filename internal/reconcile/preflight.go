package reconcile

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// ErrPrivileges reports that the session's role lacks privileges the plan
// needs; PrivilegeError lists them. Nothing was changed.
var ErrPrivileges = errors.New("missing privileges")

// MissingPrivilege is one privilege (or an ownership) the role lacks.
type MissingPrivilege struct {
	// Privilege is CREATE, USAGE or OWNERSHIP.
	Privilege string
	// ObjectType is DATABASE, SCHEMA, CLUSTER, CONNECTION or the object's
	// type; Object its quoted name.
	ObjectType string
	Object     string
	// For says what needs it, e.g. "materialized view app_v2.mv".
	For []string
}

func (m MissingPrivilege) String() string {
	what := m.Privilege + " on " + m.ObjectType + " " + m.Object
	if m.Privilege == "OWNERSHIP" {
		what = "ownership of " + m.ObjectType + " " + m.Object
	}
	if len(m.For) > 0 {
		what += " (for " + strings.Join(m.For, ", ") + ")"
	}
	return what
}

// grant is the statement that gives the privilege, "" for ownership.
func (m MissingPrivilege) grant(role string) string {
	if m.Privilege == "OWNERSHIP" {
		return fmt.Sprintf("ALTER %s %s OWNER TO %s", m.ObjectType, m.Object, model.QuoteIdent(role))
	}
	return fmt.Sprintf("GRANT %s ON %s %s TO %s", m.Privilege, m.ObjectType, m.Object, model.QuoteIdent(role))
}

// PrivilegeError lists everything the role lacks, in one message.
type PrivilegeError struct {
	Role    string
	Missing []MissingPrivilege
}

func (e *PrivilegeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "role %s lacks %d privilege(s) this plan needs; nothing was changed:", model.QuoteIdent(e.Role), len(e.Missing))
	for _, m := range e.Missing {
		b.WriteString("\n  - " + m.String())
	}
	b.WriteString("\n  as a superuser or the owners, run:")
	for _, m := range e.Missing {
		b.WriteString("\n    " + m.grant(e.Role) + ";")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrPrivileges) true.
func (e *PrivilegeError) Is(target error) bool { return target == ErrPrivileges }

// Preflight checks, before anything is changed, that the session's role
// holds what the plan's executable changes need, as Materialize's RBAC
// requires it (doc/user/content/security/appendix: privileges by command):
//
//   - CREATE on the database for any change at all (the apply lease and
//     the version schemas are schemas; a swap or rename of schemas needs it
//     too);
//   - for a source: CREATE on its schema and on its cluster, USAGE on its
//     connection and on the connection's schema;
//   - for a materialized view or index: CREATE on its cluster;
//   - for anything created in, commented on, granted in, swapped, renamed
//     or dropped from an existing schema: ownership of that schema (and, to
//     drop it, of everything in it), and of existing objects it comments on
//     or replaces.
//
// A superuser passes everything. It returns nil when o carries no access
// facts (an observer that does not read them), or a *PrivilegeError that
// lists every missing privilege.
func Preflight(o *model.Observed, des *model.Desired, plan *Plan) error {
	a := o.Access
	if a == nil || a.Superuser || plan.Empty() {
		return nil
	}
	ix := newIndex(o, "")
	var missing []MissingPrivilege
	need := func(priv, typ, obj, why string) {
		for i := range missing {
			m := &missing[i]
			if m.Privilege == priv && m.ObjectType == typ && m.Object == obj {
				if why != "" && !slices.Contains(m.For, why) {
					m.For = append(m.For, why)
				}
				return
			}
		}
		m := MissingPrivilege{Privilege: priv, ObjectType: typ, Object: obj}
		if why != "" {
			m.For = []string{why}
		}
		missing = append(missing, m)
	}
	schemaOwned := func(name, why string) {
		s := ix.schemas[name]
		if s == nil {
			return // created by this plan: the role will own it
		}
		if g, ok := a.Schemas[s.ID]; ok && !a.Owns(g.OwnerID) {
			need("OWNERSHIP", "SCHEMA", model.QuoteIdent(name), why)
		}
	}
	objectOwned := func(ref model.Ref, why string) {
		s := ix.schemas[ref.Schema]
		if s == nil {
			return
		}
		ob := ix.object(s, ref.Name)
		if ob == nil {
			return
		}
		if g, ok := a.Objects[ob.ID]; ok && !a.Owns(g.OwnerID) {
			need("OWNERSHIP", strings.ToUpper(strings.ReplaceAll(string(ob.Kind), "-", " ")), ref.Quoted(), why)
		}
	}
	clusterCreate := func(cluster, why string) {
		if cluster == "" {
			return
		}
		if held, ok := a.Clusters[cluster]; ok && !a.Holds(held, "CREATE") {
			need("CREATE", "CLUSTER", model.QuoteIdent(cluster), why)
		}
	}
	versionLoc := func(id model.VersionID) string {
		for _, s := range o.Schemas {
			if s.Marker != nil && s.Marker.ID() == id && s.Name != id.Schema {
				return s.Name
			}
		}
		return id.BuildSchema()
	}
	renamedFrom := map[string]string{} // adoption: new schema name -> hand-built name
	for _, c := range plan.Changes {
		if !c.Op.Executable() || c.Op == OpWait {
			continue
		}
		if !a.Holds(a.Database, "CREATE") {
			need("CREATE", "DATABASE", model.QuoteIdent(o.Database), "the apply lease and version schemas")
		}
		what := strings.ReplaceAll(c.Kind, "-", " ") + " " + c.Target
		switch c.Op {
		case OpCreate:
			switch c.Kind {
			case KindSchema:
			case KindSource:
				for _, s := range des.Sources {
					if s.Ref().String() != c.Target {
						continue
					}
					what = "source " + s.Ref().String()
					if sch := ix.schemas[s.Schema]; sch != nil {
						if g, ok := a.Schemas[sch.ID]; ok && !a.HoldsACL(g, "CREATE") {
							need("CREATE", "SCHEMA", model.QuoteIdent(s.Schema), what)
						}
					}
					clusterCreate(s.Cluster, what)
					connSchema, connName := s.Schema, s.Connection
					if i := strings.LastIndexByte(s.Connection, '.'); i >= 0 {
						connSchema, connName = s.Connection[:i], s.Connection[i+1:]
					}
					if held, ok := a.Connections[connSchema+"."+connName]; ok && !a.Holds(held, "USAGE") {
						need("USAGE", "CONNECTION", model.Ref{Schema: connSchema, Name: connName}.Quoted(), what)
					}
					if sch := ix.schemas[connSchema]; sch != nil && connSchema != s.Schema {
						if g, ok := a.Schemas[sch.ID]; ok && !a.HoldsACL(g, "USAGE") {
							need("USAGE", "SCHEMA", model.QuoteIdent(connSchema), what)
						}
					}
				}
			default:
				schema := c.Target
				if len(c.Objects) > 0 {
					schema = c.Objects[0].Schema
				}
				schemaOwned(schema, what)
				if c.Kind == KindMaterializedView || c.Kind == KindIndex {
					if sch, v := findVersion(des, c.Version); v != nil {
						for _, ob := range v.Objects {
							if len(c.Objects) > 0 && ob.Name == c.Objects[0].Name {
								clusterCreate(cmp.Or(ob.Cluster, sch.Cluster), what)
							}
						}
					}
				}
				if c.Kind == KindGrant {
					// GRANT needs ownership of each relation it grants on.
					if sch := ix.schemas[schema]; sch != nil {
						for _, ob := range sch.Objects {
							switch ob.Kind {
							case model.KindTable, model.KindView, model.KindMaterializedView:
								objectOwned(model.Ref{Schema: sch.Name, Name: ob.Name}, "its grants")
							}
						}
					}
				}
				if c.Destructive {
					for _, r := range c.Objects {
						objectOwned(r, "replace "+r.String())
					}
				}
			}
		case OpComment:
			if c.Kind == KindSchema {
				schemaOwned(c.Target, "its marker comment")
			} else {
				for _, r := range c.Objects {
					objectOwned(r, "its marker comment")
				}
			}
		case OpSwap:
			if c.Version.Schema != "" {
				schemaOwned(c.Version.Schema, "the cutover to "+c.Version.String())
				schemaOwned(versionLoc(c.Version), "the cutover to "+c.Version.String())
			}
		case OpRename:
			schemaOwned(versionLoc(c.Version), "the cutover to "+c.Version.String())
		case OpAdopt:
			// Renaming a schema and commenting objects need ownership; an
			// adopted object keeps its owner, so a hand-built schema owned
			// by another role is named here, before anything is sent.
			why := "adopting it as " + c.Version.String()
			switch {
			case c.Kind == KindSchema && len(c.SQL) > 0 && strings.HasPrefix(c.SQL[0], "ALTER SCHEMA"):
				schemaOwned(c.Target, why)
				renamedFrom[c.Version.BuildSchema()] = c.Target // adopt.go renames into the build name
			case c.Kind == KindSchema:
				schemaOwned(cmp.Or(renamedFrom[c.Target], c.Target), why)
			default:
				for _, r := range c.Objects {
					objectOwned(model.Ref{Schema: cmp.Or(renamedFrom[r.Schema], r.Schema), Name: r.Name}, why)
				}
			}
		case OpDrop:
			schemaOwned(c.Target, "dropping it")
			if s := ix.schemas[c.Target]; s != nil {
				for _, ob := range s.Objects {
					objectOwned(model.Ref{Schema: s.Name, Name: ob.Name}, "dropping schema "+c.Target)
				}
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	order := map[string]int{"DATABASE": 0, "SCHEMA": 1, "CLUSTER": 2, "CONNECTION": 3}
	slices.SortStableFunc(missing, func(x, y MissingPrivilege) int {
		ox, okx := order[x.ObjectType]
		oy, oky := order[y.ObjectType]
		if !okx {
			ox = 4
		}
		if !oky {
			oy = 4
		}
		return cmp.Or(cmp.Compare(ox, oy), cmp.Compare(x.Object, y.Object), cmp.Compare(x.Privilege, y.Privilege))
	})
	return &PrivilegeError{Role: a.Role, Missing: missing}
}
