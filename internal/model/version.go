package model

// CompareVersions orders version names naturally: runs of digits compare as
// numbers, so v2 < v10, and other characters compare bytewise. It returns
// -1, 0 or +1.
func CompareVersions(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			// Compare numerically without overflow: strip leading zeros,
			// then longer is bigger, then bytewise.
			ta, tb := trimZeros(na), trimZeros(nb)
			if len(ta) != len(tb) {
				return sign(len(ta) - len(tb))
			}
			if ta != tb {
				if ta < tb {
					return -1
				}
				return 1
			}
			if len(na) != len(nb) {
				return sign(len(na) - len(nb))
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		a, b = a[1:], b[1:]
	}
	return sign(len(a) - len(b))
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
