# Developer entry points. Each sets up what it needs first (idempotent): `make setup` and
# `make demo` the runtime environment only (.venv, the launch stack, ws/); `make test`,
# `make bench`, `make lint` and `make model` also the test tools and the NumPy 2 and Python 3.10
# test environments.
.PHONY: setup setup-tests test demo bench lint model clean

setup:
	@bash dev/bootstrap.sh

setup-tests:
	@bash dev/bootstrap.sh --tests

test: setup-tests
	@bash dev/run_tests.sh $(ARGS)

# `make demo ARGS=--loop`: the node keeps running on the looped bag (see dev/demo.py).
demo: setup
	@bash -c 'source dev/env.sh && python dev/demo.py $(ARGS)'

bench: setup-tests
	@bash -c 'source dev/env.sh && python dev/bench/run_bench.py'

lint: setup-tests
	@.venv/bin/ruff check .

# Regenerate the trained test models (YOLOv8-seg about 30 min, its fine-tune on overlapping
# shapes about 25 min, YOLO11-seg about 15 min on 2 cores, YOLO26-seg about 75 min on one
# thread, 15 epochs, then 10 and 80 more) and their ONNX fixtures (YOLO26: the one2one branch,
# with its metadata file).
model: setup-tests
	@bash -c 'source dev/env.sh && python dev/models/train_shapes_model.py && \
	  yolov8-seg-export test/fixtures/models/shapes_seg_320.pt --imgsz 320 \
	    --output test/fixtures/models/shapes_seg_320.onnx && \
	  python dev/models/train_shapes_model.py --finetune-from test/fixtures/models/shapes_seg_320.pt \
	    --overlapping-fraction 0.6 --epochs 36 --num-train 480 --dataset-seed 20261204 \
	    --out build/shapes_train_overlap \
	    --weights-out test/fixtures/models/shapes_seg_320_overlap.pt && \
	  yolov8-seg-export test/fixtures/models/shapes_seg_320_overlap.pt --imgsz 320 \
	    --output test/fixtures/models/shapes_seg_320_overlap.onnx && \
	  python dev/models/train_shapes_model.py --arch yolo11 --epochs 50 \
	    --out build/shapes_train_y11 --weights-out test/fixtures/models/shapes_yolo11_seg_320.pt && \
	  yolov8-seg-export test/fixtures/models/shapes_yolo11_seg_320.pt --imgsz 320 \
	    --output test/fixtures/models/shapes_yolo11_seg_320.onnx && \
	  python dev/models/train_shapes_model.py --arch yolo26 --epochs 15 --batch 8 --threads 1 \
	    --workers 0 --out build/shapes_train_y26 \
	    --weights-out test/fixtures/models/shapes_yolo26_seg_320.pt && \
	  python dev/models/train_shapes_model.py --arch yolo26 --epochs 10 --batch 8 --threads 1 \
	    --workers 0 --finetune-from test/fixtures/models/shapes_yolo26_seg_320.pt \
	    --out build/shapes_train_y26_ft \
	    --weights-out test/fixtures/models/shapes_yolo26_seg_320.pt && \
	  python dev/models/train_shapes_model.py --arch yolo26 --epochs 80 --batch 8 --threads 1 \
	    --workers 0 --finetune-from test/fixtures/models/shapes_yolo26_seg_320.pt \
	    --out build/shapes_train_y26_ft2 \
	    --weights-out test/fixtures/models/shapes_yolo26_seg_320.pt && \
	  yolov8-seg-export test/fixtures/models/shapes_yolo26_seg_320.pt --imgsz 320 \
	    --output test/fixtures/models/shapes_yolo26_seg_320.onnx'

clean:
	rm -rf ws build demo_out
