"""Data room: finding and loading images, videos and masks, decoding masks into class ids, augmentation."""
