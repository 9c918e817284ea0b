package password

import "context"

// Hold returns ctx carrying a place in the pool for the hashes of one
// request: the place ctx already holds, or one taken now (ErrBusy at once
// if the pool is full). release gives back only a place Hold took, so a
// request's layers may each hold without taking two.
func (h *Hasher) Hold(ctx context.Context) (held context.Context, release func(), err error) {
	if pl, ok := ctx.Value(placeKey{}).(*Place); ok && pl.p == h.pool && !pl.left.Load() {
		return ctx, func() {}, nil
	}
	pl, err := h.pool.Take()
	if err != nil {
		return ctx, func() {}, err
	}
	return WithPlace(ctx, pl), pl.Leave, nil
}
