package observed

import (
	"testing"

	"github.com/mzsync/mzsync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
