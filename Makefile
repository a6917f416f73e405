# Developer entry points. `make demo` and `make test` set everything up first (idempotent).
.PHONY: setup test demo bench lint model clean

setup:
	@bash dev/bootstrap.sh

test: setup
	@bash dev/run_tests.sh $(ARGS)

demo: setup
	@bash -c 'source dev/env.sh && python dev/demo.py'

bench: setup
	@bash -c 'source dev/env.sh && python dev/bench/run_bench.py'

lint: setup
	@.venv/bin/ruff check .

# Regenerate the trained test model (about 30 min on 2 cores) and its ONNX fixture.
model: setup
	@bash -c 'source dev/env.sh && python dev/models/train_shapes_model.py && \
	  yolov8-seg-export test/fixtures/models/shapes_seg_320.pt --imgsz 320 \
	    --output test/fixtures/models/shapes_seg_320.onnx'

clean:
	rm -rf ws build demo_out
