package observed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mzsync/mzsync/internal/model"
)

// UpstreamTables lists, for each declared source (by name), the upstream
// tables mzsync cares about: those the manifests reference and those that
// the catalog's tables fed from that source ingest. Each list is sorted
// and free of duplicates. obs may be nil.
func UpstreamTables(desired *model.Desired, obs *model.Observed) map[string][]model.UpstreamRef {
	out := map[string][]model.UpstreamRef{}
	byRef := map[model.Ref]string{}
	for _, s := range desired.Sources {
		byRef[s.Ref()] = s.Name
		out[s.Name] = nil
	}
	for _, sc := range desired.Schemas {
		for _, v := range sc.Versions {
			for _, o := range v.Objects {
				if name, ok := byRef[o.Source]; ok && o.Kind == model.KindTable {
					out[name] = append(out[name], o.Reference)
				}
			}
		}
	}
	if obs != nil {
		byID := map[string]string{}
		for _, s := range obs.Sources {
			if name, ok := byRef[s.Ref()]; ok {
				byID[s.ID] = name
			}
		}
		for _, sc := range obs.Schemas {
			for _, o := range sc.Objects {
				if name, ok := byID[o.SourceID]; ok && o.Reference.Table != "" {
					out[name] = append(out[name], o.Reference)
				}
			}
		}
	}
	for name, refs := range out {
		slices.SortFunc(refs, func(a, b model.UpstreamRef) int {
			return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Table, b.Table))
		})
		out[name] = slices.Compact(refs)
	}
	return out
}

// ReadUpstreams inspects the upstream database of every declared source,
// each over its own connection to the URL held in the environment
// variable the source names (lookupEnv is os.LookupEnv in production), one
// source after the other. The map holds the sources that could be
// inspected; the error joins one error per source that could not, each
// naming the source and, for connection failures, the host (never the
// password).
func ReadUpstreams(ctx context.Context, desired *model.Desired, obs *model.Observed, lookupEnv func(string) (string, bool)) (map[string]model.UpstreamState, error) {
	out, _, err := readUpstreams(ctx, desired, obs, lookupEnv, DefaultStatementTimeout)
	return out, err
}

// readUpstreams is ReadUpstreams with each source's inspection (connect
// and read) bounded by timeout; it also returns why each source that could
// not be inspected was not, by source name.
func readUpstreams(ctx context.Context, desired *model.Desired, obs *model.Observed, lookupEnv func(string) (string, bool), timeout time.Duration) (map[string]model.UpstreamState, map[string]string, error) {
	tables := UpstreamTables(desired, obs)
	out := map[string]model.UpstreamState{}
	why := map[string]string{}
	var errs []error
	for _, s := range desired.Sources {
		sctx, cancel := context.WithTimeout(ctx, timeout)
		st, err := readOneUpstream(sctx, s, tables[s.Name], lookupEnv)
		if err != nil && ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		cancel()
		if err != nil {
			why[s.Name] = err.Error()
			errs = append(errs, fmt.Errorf("source %s: %w", s.Name, err))
			continue
		}
		out[s.Name] = st
	}
	return out, why, errors.Join(errs...)
}

func readOneUpstream(ctx context.Context, s model.Source, tables []model.UpstreamRef, lookupEnv func(string) (string, bool)) (model.UpstreamState, error) {
	if s.UpstreamURLEnv == "" {
		return model.UpstreamState{}, errors.New("no upstream.urlEnv declared")
	}
	url, ok := lookupEnv(s.UpstreamURLEnv)
	if !ok || url == "" {
		return model.UpstreamState{}, fmt.Errorf("environment variable %s is not set", s.UpstreamURLEnv)
	}
	conn, err := Connect(ctx, url, "inspect upstream")
	if err != nil {
		return model.UpstreamState{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	st, err := ReadUpstream(ctx, conn, s.Publication, tables)
	if err != nil {
		return st, fmt.Errorf("on %s: %w", Where(conn), err)
	}
	return st, nil
}
