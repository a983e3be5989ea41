"""ovserve's standalone server: TF Serving REST on Sanic, driven by OVMS flags."""
