// Writes freshly initialised fastai-layout weights for the by-hand interop check
// (scripts/interop/check_fastai_load.py): xresnet34(n_out=20) and a U-Net encoder saved through
// EncoderTransfer, both as safetensors with fastai's key names.
import Foundation
import NN
import Torch

let dir = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "."
do {
  Runtime.manualSeed(0)
  let classifier = try XResNet(.resnet34, classes: 20)
  try classifier.save(to: "\(dir)/xresnet34_nout20.safetensors")
  let unet = try DynamicUnet(encoder: XResNet(.resnet34).body, outChannels: 3, imageSize: (128, 128))
  try unet.save(to: "\(dir)/unet_xresnet34_128.safetensors")
  try SafeTensors.save(EncoderTransfer.encoderState(of: unet), to: "\(dir)/unet_encoder.safetensors")
  print("wrote \(dir)/xresnet34_nout20.safetensors, unet_xresnet34_128.safetensors, unet_encoder.safetensors")
} catch {
  print("error: \(error)")
  exit(1)
}
