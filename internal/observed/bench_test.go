package observed

import (
	"context"
	"testing"
	"time"
)

// BenchmarkObserve reads a catalog holding 2,000 owned objects through
// mzemu. Read is one full observation pass; MzObjectsFloor is a single
// SELECT * FROM mz_objects on the same server, the least any pass could
// cost; Readiness is one readiness poll for 200 objects. Each reports
// network round trips per operation.
func BenchmarkObserve(b *testing.B) {
	env := scaleEnv(b)
	start := time.Now()
	buildOwned(b, env, "bench", 2000)
	b.Logf("built 2,000 owned objects in %s", time.Since(start).Round(time.Millisecond))
	conn, wire := connectCounted(b, env.MaterializeURL)
	ctx := context.Background()
	obs, err := Read(ctx, conn)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for _, s := range obs.Schemas {
		for _, o := range s.Objects {
			if o.Marker != nil && len(ids) < 200 {
				ids = append(ids, o.ID)
			}
		}
	}

	b.Run("Read", func(b *testing.B) {
		wire.Reset()
		for b.Loop() {
			if _, err := Read(ctx, conn); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(wire.Trips())/float64(b.N), "roundtrips/op")
	})
	b.Run("MzObjectsFloor", func(b *testing.B) {
		wire.Reset()
		for b.Loop() {
			rows, err := conn.Query(ctx, "SELECT * FROM mz_catalog.mz_objects")
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(wire.Trips())/float64(b.N), "roundtrips/op")
	})
	b.Run("Readiness200", func(b *testing.B) {
		wire.Reset()
		for b.Loop() {
			if _, err := ReadReadiness(ctx, conn, ids); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(wire.Trips())/float64(b.N), "roundtrips/op")
	})
}
