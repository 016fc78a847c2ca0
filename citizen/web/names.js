// Vietnamese names of the statuses (the registry's code list of citizen.reports.status).
export const STATUS_NAMES = {
  moi: 'Mới tiếp nhận', da_phan_loai: 'Đã phân loại', da_giao: 'Đã giao xử lý',
  dang_xu_ly: 'Đang xử lý', da_tra_loi: 'Đã trả lời', da_dong: 'Đã đóng',
  tra_lai: 'Trả lại để giao lại', tu_choi: 'Từ chối',
};
