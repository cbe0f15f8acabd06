// Command mkimage writes mzsync's container image as a tarball without a
// Docker daemon or network access: one layer holding the static mzsync
// binary at /mzsync, a minimal /etc/passwd and /etc/group naming the
// non-root user 65532 (nonroot, as distroless images do), and optionally the
// CA certificates, on an empty base. The tarball loads with `docker load` or
// `podman load` and pushes with `crane push`; its manifest, config and layer
// use the OCI media types. `make image` runs it.
//
//	mkimage -binary dist/image/mzsync -out dist/mzsync-image.tar -tag mzsync:v1.2.3 \
//	        [-arch amd64] [-version v1.2.3 -commit SHA -created RFC3339] [-ca-certs FILE]
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user: 65532 is distroless's nonroot.
const (
	uid  = 65532
	user = "65532:65532"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	binary := fs.String("binary", "", "the static linux mzsync binary to put at /mzsync")
	out := fs.String("out", "", "the image tarball to write")
	tag := fs.String("tag", "mzsync:devel", "the image reference recorded in the tarball")
	arch := fs.String("arch", "amd64", "the binary's GOARCH")
	version := fs.String("version", "", "org.opencontainers.image.version label")
	commit := fs.String("commit", "", "org.opencontainers.image.revision label")
	created := fs.String("created", "", "image creation time, RFC 3339 (default: the Unix epoch, for reproducible images)")
	caCerts := fs.String("ca-certs", "", "CA bundle to put at /etc/ssl/certs/ca-certificates.crt (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || *out == "" {
		return fmt.Errorf("-binary and -out are required")
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		return fmt.Errorf("parse -tag: %w", err)
	}
	when := time.Unix(0, 0).UTC()
	if *created != "" {
		if when, err = time.Parse(time.RFC3339, *created); err != nil {
			return fmt.Errorf("parse -created: %w", err)
		}
	}
	bin, err := os.ReadFile(*binary)
	if err != nil {
		return fmt.Errorf("read binary: %w", err)
	}
	var certs []byte
	if *caCerts != "" {
		if certs, err = os.ReadFile(*caCerts); err != nil {
			return fmt.Errorf("read CA certificates: %w", err)
		}
	}
	img, err := build(bin, certs, *arch, *version, *commit, when)
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(*out, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	return nil
}

// build assembles the image on an empty base.
func build(bin, certs []byte, arch, version, commit string, created time.Time) (v1.Image, error) {
	layerTar, err := rootfs(bin, certs, created)
	if err != nil {
		return nil, fmt.Errorf("build layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("build layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "mkimage: /mzsync", Comment: "static mzsync binary"},
	})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = arch
	cf.Created = v1.Time{Time: created}
	cf.Config.Entrypoint = []string{"/mzsync"}
	cf.Config.User = user
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"PATH=/", "HOME=/home/nonroot"}
	if certs != nil {
		cf.Config.Env = append(cf.Config.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
	}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":    "mzsync",
		"org.opencontainers.image.source":   "https://github.com/mzsync/mzsync",
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	if version != "" {
		cf.Config.Labels["org.opencontainers.image.version"] = version
	}
	if commit != "" {
		cf.Config.Labels["org.opencontainers.image.revision"] = commit
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}

// rootfs is the layer's tar: /mzsync, /etc/passwd, /etc/group, the nonroot
// home and /tmp, and the CA bundle when given. Every entry has the same
// time, so the image digest depends only on the inputs.
func rootfs(bin, certs []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, owner int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: owner, Gid: owner, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc/", 0o755, 0) },
		func() error {
			return file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"))
		},
		func() error { return file("etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n")) },
		func() error { return dir("home/", 0o755, 0) },
		func() error { return dir("home/nonroot/", 0o700, uid) },
		func() error { return dir("tmp/", 0o1777, 0) },
		func() error { return file("mzsync", 0o755, bin) },
	}
	if certs != nil {
		steps = append(steps,
			func() error { return dir("etc/ssl/", 0o755, 0) },
			func() error { return dir("etc/ssl/certs/", 0o755, 0) },
			func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, certs) },
		)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
