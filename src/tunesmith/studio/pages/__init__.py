"""One module per lifecycle step; each exposes `build(ctx, demo)` called inside its own tab."""
