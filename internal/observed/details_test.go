package observed

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mzsync/mzsync/internal/model"
)

func TestDecodeDetails(t *testing.T) {
	// Encoded by hand from Materialize's protobuf definitions
	// (ProtoSourceExportStatementDetails > postgres > table): table
	// public.t, OID 16385; id int4 NOT NULL attnum 1 (type_mod -1, a
	// sign-extended varint), name varchar(20) attnum 3; a primary key.
	const hexDetails = "0a4a0a480a017412067075626c69631881800122130a026964101718ffffffffffffffffff013001" +
		"220f0a046e616d651093081818200130032a11088680011206745f706b65791a01012001"
	got, err := decodeDetails(hexDetails)
	if err != nil {
		t.Fatal(err)
	}
	want := &model.PinnedUpstream{
		OID: 16385, Ref: model.UpstreamRef{Schema: "public", Table: "t"},
		Columns: []model.UpstreamColumn{
			{Name: "id", Attnum: 1, TypeOID: 23, TypeMod: -1},
			{Name: "name", Attnum: 3, TypeOID: 1043, TypeMod: 24, Nullable: true},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decodeDetails (-want +got):\n%s", diff)
	}

	// Another source kind (here MySQL, field 2) has no Postgres table.
	if got, err := decodeDetails("1200"); err != nil || got != nil {
		t.Errorf("MySQL details = %+v, %v; want nil, nil", got, err)
	}
	for _, bad := range []string{"zz", "0a05"} {
		if _, err := decodeDetails(bad); err == nil {
			t.Errorf("decodeDetails(%q) = nil error", bad)
		}
	}
}
