// Rotation procedures (rotate, rotation state, end grace now, extend grace).
export const keyRotationProcedures = {};
