package password

import "context"

// Hold returns ctx carrying a place in the pool for the hashes of one
// request: the place ctx already holds, or one taken now (ErrBusy at once
// if the pool is full). release gives back only a place Hold took, so a
// request's layers may each hold without taking two. The place has no
// turn yet: see AwaitTurn.
func (h *Hasher) Hold(ctx context.Context) (held context.Context, release func(), err error) {
	if h.pool.placeIn(ctx) != nil {
		return ctx, func() {}, nil
	}
	pl, err := h.pool.Take()
	if err != nil {
		return ctx, func() {}, err
	}
	return WithPlace(ctx, pl), pl.Leave, nil
}

// Rest gives back the turn of the place ctx carries, if it holds one, for
// a wait that needs neither the processors nor the database, such as a
// uniform response's, or a wait for something that other places hold
// (AwaitTurn takes a turn again): the next place in line may start its
// work. The place itself stays taken, so the pool's capacity still
// counts it.
func (h *Hasher) Rest(ctx context.Context) {
	if pl := h.pool.placeIn(ctx); pl != nil {
		pl.endTurn()
	}
}

// AwaitTurn waits until the place ctx carries has a turn to do its work
// (Place.awaitTurn), unless it has one; ctx.Err() if ctx ends first.
// Without a place it waits for nothing.
func (h *Hasher) AwaitTurn(ctx context.Context) error {
	if pl := h.pool.placeIn(ctx); pl != nil && !pl.turn.Load() {
		return pl.awaitTurn(ctx)
	}
	return nil
}
