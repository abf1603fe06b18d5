package bench

// usage is what the kernel accounted to a process: CPU time in user and
// system mode and context switches. Known is false where the platform does
// not say.
type usage struct {
	UserNs int64 `json:"user_ns"`
	SysNs  int64 `json:"sys_ns"`
	// Vcsw counts voluntary context switches (the process blocked), Ivcsw
	// involuntary ones (it was preempted).
	Vcsw  int64 `json:"vcsw"`
	Ivcsw int64 `json:"ivcsw"`
	// Known reports that the CPU times are known, CtxswKnown that the
	// context switch counts are.
	Known      bool `json:"known"`
	CtxswKnown bool `json:"ctxsw_known"`
}

// sub returns u minus an earlier snapshot v of the same process.
func (u usage) sub(v usage) usage {
	return usage{
		UserNs:     u.UserNs - v.UserNs,
		SysNs:      u.SysNs - v.SysNs,
		Vcsw:       u.Vcsw - v.Vcsw,
		Ivcsw:      u.Ivcsw - v.Ivcsw,
		Known:      u.Known && v.Known,
		CtxswKnown: u.CtxswKnown && v.CtxswKnown,
	}
}

// ctxsw returns the voluntary plus involuntary context switches.
func (u usage) ctxsw() int64 { return u.Vcsw + u.Ivcsw }
