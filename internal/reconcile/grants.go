package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mzsync/mzsync/internal/model"
)

// GrantDrift is one difference between a schema's declared grants
// (spec.grants) and the privileges a built version holds: a declared
// privilege a role lacks (Missing), or a privilege a declared role holds
// that the schema does not declare.
type GrantDrift struct {
	// Schema is the declared schema, Version the version and Location
	// the catalog schema that holds it (the alias when it is live).
	Schema   string `json:"schema"`
	Version  string `json:"version"`
	Location string `json:"location"`
	// ObjectType is SCHEMA, TABLE, VIEW or MATERIALIZED VIEW; Object the
	// schema's or relation's name (schema.name).
	ObjectType string `json:"object_type"`
	Object     string `json:"object"`
	Role       string `json:"role"`
	Privilege  string `json:"privilege"`
	Missing    bool   `json:"missing"`
}

func (g GrantDrift) String() string {
	if g.Missing {
		return fmt.Sprintf("role %s lacks %s on %s %s, which schema %s declares (%s)", g.Role, g.Privilege, g.ObjectType, g.Object, g.Schema, g.Version)
	}
	return fmt.Sprintf("role %s holds %s on %s %s, which schema %s does not declare (%s)", g.Role, g.Privilege, g.ObjectType, g.Object, g.Schema, g.Version)
}

// grant is the statement that gives a missing privilege. Relations of
// every kind are granted ON TABLE, as Materialize requires ("For object
// type VIEW, you must specify 'TABLE'").
func (g GrantDrift) grant() string {
	typ := "TABLE"
	if g.ObjectType == "SCHEMA" {
		typ = "SCHEMA"
	}
	return fmt.Sprintf("GRANT %s ON %s %s TO %s", g.Privilege, typ, g.quoted(), model.QuoteIdent(g.Role))
}

func (g GrantDrift) quoted() string {
	if g.ObjectType == "SCHEMA" {
		return model.QuoteIdent(g.Object)
	}
	return model.Ref{Schema: g.Location, Name: strings.TrimPrefix(g.Object, g.Location+".")}.Quoted()
}

// versionGrantDrift compares the declared grants of schema s with what
// version v, built in loc, holds, by the catalog's explicit privileges
// (mz_aclitems). It is nil without access facts or declared grants.
// Declared roles that do not exist are left out: granting to them fails
// with Materialize's own error.
func versionGrantDrift(ix *index, s *model.Schema, v *model.Version, loc *model.ObservedSchema) []GrantDrift {
	a := ix.obs.Access
	if a == nil || len(s.Grants) == 0 || loc == nil {
		return nil
	}
	sg, ok := a.Schemas[loc.ID]
	if !ok {
		return nil
	}
	var out []GrantDrift
	add := func(typ, obj, role, priv string, missing bool) {
		out = append(out, GrantDrift{Schema: s.Name, Version: v.ID.Version, Location: loc.Name,
			ObjectType: typ, Object: obj, Role: role, Privilege: priv, Missing: missing})
	}
	for _, g := range s.Grants {
		rid := a.RoleIDOf(g.Role)
		if rid == "" {
			continue
		}
		usage, sel := slices.Contains(g.Privileges, "USAGE"), slices.Contains(g.Privileges, "SELECT")
		if rid != sg.OwnerID {
			held := sg.Privileges[rid]
			if usage && !slices.Contains(held, "USAGE") {
				add("SCHEMA", loc.Name, g.Role, "USAGE", true)
			}
			for _, p := range held {
				if p != "USAGE" || !usage {
					add("SCHEMA", loc.Name, g.Role, p, false)
				}
			}
		}
		for _, o := range v.Objects {
			if o.Kind != model.KindTable && o.Kind != model.KindView && o.Kind != model.KindMaterializedView {
				continue
			}
			ob := ix.object(loc, o.Name)
			if ob == nil {
				continue
			}
			og, ok := a.Objects[ob.ID]
			if !ok || rid == og.OwnerID {
				continue
			}
			typ := strings.ToUpper(strings.ReplaceAll(string(o.Kind), "-", " "))
			name := loc.Name + "." + o.Name
			held := og.Privileges[rid]
			if sel && !slices.Contains(held, "SELECT") {
				add(typ, name, g.Role, "SELECT", true)
			}
			for _, p := range held {
				if p != "SELECT" || !sel {
					add(typ, name, g.Role, p, false)
				}
			}
		}
	}
	return out
}

// grantDriftChanges turns a version's grant drift into plan steps: one
// executable change that grants what is missing (so a version built
// before its schema declared grants, or one someone revoked from, is
// re-granted before it can be live again), and a drift finding for each
// privilege a declared role holds beyond the declaration (mzsync never
// revokes).
func grantDriftChanges(v *model.Version, loc string, drifts []GrantDrift) []Change {
	var out []Change
	var sql, what []string
	for _, d := range drifts {
		if d.Missing {
			sql = append(sql, d.grant())
			what = append(what, fmt.Sprintf("%s on %s for %s", d.Privilege, d.Object, d.Role))
		}
	}
	if len(sql) > 0 {
		out = append(out, Change{Op: OpCreate, Kind: KindGrant, Target: loc, Version: v.ID, SQL: sql,
			Reason: "grant drift: re-grant " + strings.Join(what, ", ") + " (declared by spec.grants)"})
	}
	for _, d := range drifts {
		if !d.Missing {
			out = append(out, Change{Op: OpDrift, Kind: KindGrant, Target: d.Object, Version: v.ID,
				Reason: fmt.Sprintf("grant drift: role %s holds %s, which spec.grants of schema %s does not declare; mzsync never revokes (REVOKE it, or declare it)", d.Role, d.Privilege, d.Schema)})
		}
	}
	return out
}

// GrantDrifts reports the grant drift of every declared schema's kept,
// built versions (the live one included), for status and drift. It is
// empty when obs carries no access facts.
func GrantDrifts(obs *model.Observed, des *model.Desired) []GrantDrift {
	if obs == nil || obs.Access == nil || des == nil {
		return nil
	}
	ix := newIndex(obs, "")
	var out []GrantDrift
	for i := range des.Schemas {
		s := &des.Schemas[i]
		if len(s.Grants) == 0 {
			continue
		}
		lc := newLifecycle(ix, s.Name, s.Active)
		keep := lc.keep(s)
		for j := range s.Versions {
			v := &s.Versions[j]
			loc := lc.canon[v.ID.Version]
			if !keep[v.ID.Version] || loc == nil || !loc.Marker.Built() || loc.Marker.Digest != v.Digest {
				continue
			}
			out = append(out, versionGrantDrift(ix, s, v, loc)...)
		}
	}
	return out
}
