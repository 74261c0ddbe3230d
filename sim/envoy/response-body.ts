// The buffered response body of one stream (Envoy's FilterManager::buffered_response_data_):
// one buffer per stream, shared by every encoder filter, created on first use.
// Sources: Envoy source/common/http/filter_manager.cc
// - ActiveStreamFilterBase::commonHandleBufferData: a frame's bytes are MOVED into the buffer
//   (the frame is left empty), unless the frame is the buffer itself (a filter continuing
//   hands the buffer on as the frame; a later filter stopping again does not rebuffer);
// - ActiveStreamEncoderFilter::createBuffer: a watermark buffer with the stream's buffer limit
//   (the listener's per_connection_buffer_limit_bytes, Envoy default 1 MiB; 0 = no limit);
// - ActiveStreamEncoderFilter::responseDataTooLarge: crossing the limit while the buffering
//   filter said StopIterationAndBuffer (not streaming) is a 500 local reply, details
//   `response_payload_too_large`, which resets the stream once the headers reached the codec;
//   with StopIterationAndWatermark it only applies back-pressure (not modelled: the harness
//   reads the upstream as fast as it comes).
import { BodyBuffer } from './context.js';

/** Envoy's default per_connection_buffer_limit_bytes (listener and cluster): 1 MiB. */
export const DEFAULT_BUFFER_LIMIT = 1024 * 1024;

export class ResponseBodyBuffer {
  /** null until a filter first buffers (bufferedData() is created lazily). */
  buf: BodyBuffer | null = null;
  /** state_.encoder_filters_streaming_: the last stop was StopIterationAndWatermark. */
  streaming = false;
  /** WatermarkBuffer: the high-watermark callback fires once per crossing. */
  private aboveHigh = false;

  constructor(
    private readonly limit: number,
    private readonly tooLarge: () => void,
  ) {}

  get size(): number {
    return this.buf?.size ?? 0;
  }

  /** commonHandleBufferData(provided_data). */
  move(frame: BodyBuffer): void {
    if (this.buf === frame) return;
    if (!this.buf) this.buf = new BodyBuffer(Buffer.alloc(0), true);
    if (frame.data.length > 0) {
      this.buf.data = this.buf.data.length === 0 ? frame.data : Buffer.concat([this.buf.data, frame.data]);
      frame.data = Buffer.alloc(0);
    }
    // WatermarkBuffer::checkHighAndOverflowWatermarks: length() > high watermark.
    if (!this.aboveHigh && this.limit > 0 && this.buf.data.length > this.limit) {
      this.aboveHigh = true;
      if (!this.streaming) this.tooLarge();
    }
  }

  /** What the codec took: the buffer is drained (it stays the stream's buffer). */
  drain(): void {
    if (this.buf) this.buf.data = Buffer.alloc(0);
    this.aboveHigh = false;
  }
}
