package daemon

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchDir watches dir and its subdirectories (new ones included, .git
// and other hidden directories excepted) and calls trigger once changes
// have been quiet for quiet, so an editor's burst of writes asks for one
// pass. The watch is set up before WatchDir returns; it stops when ctx is
// done, and the returned channel is closed then. Watch errors are logged,
// never fatal: the interval still brings the daemon round.
func WatchDir(ctx context.Context, dir string, quiet time.Duration, log *slog.Logger, trigger func()) (<-chan struct{}, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	if err := addTree(w, dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		timer := time.NewTimer(quiet)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) {
					if st, err := os.Stat(ev.Name); err == nil && st.IsDir() && !hidden(filepath.Base(ev.Name)) {
						if err := addTree(w, ev.Name); err != nil {
							log.Warn("watch new directory", "dir", ev.Name, "err", err)
						}
					}
				}
				if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write) {
					continue
				}
				timer.Reset(quiet)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("watch manifest directory", "dir", dir, "err", err)
			case <-timer.C:
				trigger()
			}
		}
	}()
	return done, nil
}

// addTree watches root and every non-hidden directory below it.
func addTree(w *fsnotify.Watcher, root string) error {
	return filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.IsDir() {
			return nil
		}
		if path != root && hidden(de.Name()) {
			return filepath.SkipDir
		}
		return w.Add(path)
	})
}

func hidden(name string) bool { return len(name) > 1 && name[0] == '.' }
