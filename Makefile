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

# Regenerate the trained test models (YOLOv8-seg about 30 min, YOLO11-seg about 15 min on
# 2 cores) and their ONNX fixtures.
model: setup
	@bash -c 'source dev/env.sh && python dev/models/train_shapes_model.py && \
	  yolov8-seg-export test/fixtures/models/shapes_seg_320.pt --imgsz 320 \
	    --output test/fixtures/models/shapes_seg_320.onnx && \
	  python dev/models/train_shapes_model.py --arch yolo11 --epochs 50 \
	    --out build/shapes_train_y11 --weights-out test/fixtures/models/shapes_yolo11_seg_320.pt && \
	  yolov8-seg-export test/fixtures/models/shapes_yolo11_seg_320.pt --imgsz 320 \
	    --output test/fixtures/models/shapes_yolo11_seg_320.onnx'

clean:
	rm -rf ws build demo_out
