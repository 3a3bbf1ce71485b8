"""The networks: backbones, the code predictor, the volumetric heatmap autoencoder (VHA),
image -> volume (``network.ImageToVolume``) and safetensors weights."""
