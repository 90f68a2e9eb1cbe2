package aritest

import "time"

func secondsDur(n int) time.Duration { return time.Duration(n) * time.Second }
