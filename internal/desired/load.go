package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"

	"github.com/mzsync/mzsync/internal/model"
	"github.com/mzsync/mzsync/spec"
)

// ErrEmpty is returned when a manifest tree holds no document at all. An
// empty manifest set is never a desired state: callers must not prune on it.
var ErrEmpty = errors.New("no manifest documents")

// MaxFiles bounds how many manifest files one tree may have.
const MaxFiles = 10000

// Option changes how Load works.
type Option func(*options)

type options struct {
	revision string
}

// WithRevision sets the revision recorded in the desired state, e.g. a git
// commit. Without it, Load records the content hash of the manifest files.
func WithRevision(rev string) Option { return func(o *options) { o.revision = rev } }

// Load reads every .yaml and .yml file under the root of fsys (other files
// are ignored, as are directories whose names start with "."), decodes and
// validates them, and returns the normalized desired state. Every problem
// is reported at once; each is a *spec.Error. A tree without documents
// yields ErrEmpty.
func Load(fsys fs.FS, opts ...Option) (*model.Desired, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	files, err := readManifests(fsys)
	if err != nil {
		return nil, err
	}
	var (
		ms   []*spec.Manifest
		errs []error
	)
	for _, f := range files {
		if f.err != nil {
			errs = append(errs, f.err)
			continue
		}
		docs, err := spec.Decode(f.name, f.data)
		ms = append(ms, docs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%w: no .yaml or .yml file holds a document", ErrEmpty)
	}
	if err := spec.Validate(ms); err != nil {
		return nil, err
	}
	d := build(ms)
	d.Revision = o.revision
	if d.Revision == "" {
		d.Revision = contentHash(files)
	}
	return d, nil
}

// ContentHash returns the revision of a manifest tree that has no other:
// sha256:<hex> over the names and contents of its manifest files.
func ContentHash(fsys fs.FS) (string, error) {
	files, err := readManifests(fsys)
	if err != nil {
		return "", err
	}
	return contentHash(files), nil
}

type manifestFile struct {
	name string
	data []byte
	err  error // the file could not be read, or is too large
}

func contentHash(files []manifestFile) string {
	h := sha256.New()
	for _, f := range files {
		io.WriteString(h, strconv.Quote(f.name))
		io.WriteString(h, " "+strconv.Itoa(len(f.data))+"\n")
		h.Write(f.data)
		if f.err != nil {
			io.WriteString(h, f.err.Error())
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// readManifests returns the manifest files of fsys sorted by name.
func readManifests(fsys fs.FS) ([]manifestFile, error) {
	var files []manifestFile
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read manifests: %w", err)
		}
		if d.IsDir() {
			if name != "." && d.Name()[0] == '.' {
				return fs.SkipDir
			}
			return nil
		}
		if ext := path.Ext(name); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if len(files) == MaxFiles {
			return fmt.Errorf("read manifests: more than %d manifest files", MaxFiles)
		}
		files = append(files, readFile(fsys, name))
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, nil
}

// readFile reads at most spec.MaxFileSize bytes, so a huge file costs no
// more memory than the limit.
func readFile(fsys fs.FS, name string) manifestFile {
	f, err := fsys.Open(name)
	if err != nil {
		return manifestFile{name: name, err: &spec.Error{File: name, Msg: fmt.Sprintf("read: %v", err)}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, spec.MaxFileSize+1))
	if err != nil {
		return manifestFile{name: name, err: &spec.Error{File: name, Msg: fmt.Sprintf("read: %v", err)}}
	}
	if len(data) > spec.MaxFileSize {
		return manifestFile{name: name, err: &spec.Error{File: name, Msg: fmt.Sprintf("file is larger than the %d bytes a manifest may have", spec.MaxFileSize)}}
	}
	return manifestFile{name: name, data: data}
}
