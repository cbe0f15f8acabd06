package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mzsync/mzsync/internal/desired"
	"github.com/mzsync/mzsync/internal/model"
)

// sourceFlags are the flags that say where manifests come from: a local
// directory, or a git remote with a ref and a sub-path. Every command that
// reads manifests registers them.
type sourceFlags struct {
	dir          string
	gitURL       string
	ref          string
	path         string
	tokenFile    string
	sshKeyFile   string
	gitUsername  string
	cacheDir     string
	defaultToDot bool // validate reads "." when no source is given
}

func (s *sourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.dir, "dir", "", "read manifests from this local directory")
	fs.StringVar(&s.gitURL, "git", "", "read manifests from this git remote (https://, ssh://, git@host:path, file path)")
	fs.StringVar(&s.ref, "ref", "", "with --git: branch, tag or commit (default: the remote's default branch)")
	fs.StringVar(&s.path, "path", "", "with --git: manifest directory inside the repository")
	fs.StringVar(&s.tokenFile, "git-token-file", "", "with --git: file holding an HTTPS access token (or set MZSYNC_GIT_TOKEN)")
	fs.StringVar(&s.sshKeyFile, "git-ssh-key-file", "", "with --git: PEM private key for SSH remotes (passphrase in MZSYNC_GIT_SSH_KEY_PASSPHRASE)")
	fs.StringVar(&s.gitUsername, "git-username", "", "with --git: user name sent with the token (default x-access-token)")
	fs.StringVar(&s.cacheDir, "git-cache", "", "with --git: directory of cached clones (default: the user cache directory)")
}

// source returns the manifest source the flags describe.
func (s *sourceFlags) source(e *env) (desired.Source, error) {
	switch {
	case s.dir != "" && s.gitURL != "":
		return nil, errors.New("give --dir or --git, not both")
	case s.dir == "" && s.gitURL == "":
		if s.defaultToDot {
			return desired.DirSource{Dir: "."}, nil
		}
		return nil, errors.New("give --dir DIR or --git URL")
	case s.dir != "":
		for name, v := range map[string]string{"--ref": s.ref, "--path": s.path, "--git-token-file": s.tokenFile, "--git-ssh-key-file": s.sshKeyFile} {
			if v != "" {
				return nil, fmt.Errorf("%s needs --git", name)
			}
		}
		return desired.DirSource{Dir: s.dir}, nil
	}
	auth := desired.GitAuth{Username: s.gitUsername, Token: e.getenv("MZSYNC_GIT_TOKEN")}
	if s.tokenFile != "" {
		b, err := os.ReadFile(s.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--git-token-file: %w", err)
		}
		auth.Token = strings.TrimSpace(string(b))
	}
	if s.sshKeyFile != "" {
		b, err := os.ReadFile(s.sshKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--git-ssh-key-file: %w", err)
		}
		auth.SSHKey = b
		auth.SSHKeyPassphrase = e.getenv("MZSYNC_GIT_SSH_KEY_PASSPHRASE")
	}
	return &desired.GitSource{
		URL:      s.gitURL,
		Ref:      s.ref,
		Path:     s.path,
		CacheDir: s.cacheDir,
		Auth:     auth,
		Log:      e.log,
	}, nil
}

// load fetches the manifests once and returns their desired state. A git
// remote that cannot be reached is an error here, even with a cached
// checkout: one-shot commands act on the current revision or not at all.
func (s *sourceFlags) load(ctx context.Context, e *env) (*model.Desired, error) {
	src, err := s.source(e)
	if err != nil {
		return nil, err
	}
	snap, err := src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Load()
}
